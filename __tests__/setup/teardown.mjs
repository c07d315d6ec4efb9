// Jest global teardown: removes the run's temp root (see temp-root.mjs).
import { removeTempRoot } from './temp-root.mjs'

export default async function globalTeardown() {
  await removeTempRoot()
}

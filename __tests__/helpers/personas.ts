// Registry personas: the tests' proxy in front of the real registry, answering as one hosted
// registry does (docs/registries.md lists each behaviour and its public source). Each persona
// counts what it injected, so a test can show the quirk was met and not merely absent.
import http from 'node:http'
import { ExchangeLog } from './exchanges.js'
import {
  errorBody,
  forwardBody,
  isBlobPath,
  isManifestPath,
  isReferrers,
  isUploadPath,
  readAllBody,
  refuse
} from './persona-http.js'
import { headStatus } from './registry.js'
import { startProxy, type TestProxy } from './proxy.js'

export const PERSONAS = [
  'ghcr',
  'ecr',
  'dockerhub',
  'gar',
  'acr',
  'quay',
  'harbor',
  'gitlab',
  'artifactory',
  'nexus',
  'cdn100mb'
] as const
export type PersonaName = (typeof PERSONAS)[number]

export interface Persona {
  name: PersonaName
  proxy: TestProxy
  host: string
  /** How often each quirk was applied. */
  counts: Record<string, number>
  log: ExchangeLog
  stop(): Promise<void>
}

const MiB = 1024 * 1024
const GHCR_MAX_PATCH = 4 * MiB
const ECR_MIN_PART = 5 * MiB
const CDN_MAX_BODY = 100_000_000

/** Repositories an ECR persona has "created"; others answer NAME_UNKNOWN on push. */
export const ECR_MISSING_PREFIX = 'not-created/'

/**
 * Starts a persona in front of `upstream`. `basic` is the `user:password` the upstream wants; the
 * persona uses it itself for "signed" URLs, which carry their grant in the URL, not a header.
 */
export async function startPersona(
  name: PersonaName,
  upstream: string,
  basic?: string
): Promise<Persona> {
  const counts: Record<string, number> = {}
  const count = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1
  }
  const log = new ExchangeLog()
  /** ECR: part lengths per upload session, checked on completion. */
  const parts = new Map<string, number[]>()
  /** Harbor: referrers by subject digest, as its referrers API keeps them. */
  const referrers = new Map<string, Record<string, unknown>[]>()
  let remaining = 200
  let signedHost = ''

  const upstreamAuth = basic ? `Basic ${Buffer.from(basic).toString('base64')}` : undefined

  /** A blob GET answered with a redirect to a pre-signed URL on another origin (S3, GCS, ACR data endpoint). */
  const redirectToSigned = (req: http.IncomingMessage, res: http.ServerResponse): true => {
    count('signed-redirect')
    const signed = new URL(`http://${signedHost}/_signed${req.url ?? '/'}`)
    signed.searchParams.set('X-Signature', 'abc')
    res.writeHead(307, { Location: signed.href })
    res.end()
    return true
  }

  const proxy = await startProxy(upstream, async (req, res, p) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname
    const method = req.method ?? ''
    const length = Number(req.headers['content-length'] ?? 0)
    const ex = log.record(req, res)

    // Pre-signed URLs: the grant is in the URL; an Authorization header is refused (S3's 400).
    if (path.startsWith('/_signed/')) {
      if (req.headers.authorization) {
        count('signed-url-with-authorization')
        return refuse(
          req,
          res,
          400,
          '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>',
          'application/xml'
        )
      }
      url.searchParams.delete('X-Signature')
      const headers: Record<string, string> = { host: upstream }
      if (upstreamAuth) headers.authorization = upstreamAuth
      p.forward(req, res, { path: path.slice('/_signed'.length) + url.search, headers })
      return true
    }

    switch (name) {
      case 'ghcr': {
        if (method === 'PATCH' && length > GHCR_MAX_PATCH) {
          count('patch-too-large')
          return refuse(
            req,
            res,
            416,
            errorBody(
              'REQUESTED_RANGE_NOT_SATISFIABLE',
              'the request body is too large and exceeds the maximum permissible limit of 4.00MiB'
            )
          )
        }
        if (isReferrers(path)) {
          count('no-referrers-api')
          return refuse(req, res, 404, '404 page not found\n', 'text/plain')
        }
        // Host-relative upload Locations.
        p.forward(req, res, {
          mapResponse: (status, headers) => {
            if (headers.location && isUploadPath(headers.location)) {
              const loc = new URL(headers.location, 'http://x')
              headers.location = loc.pathname + loc.search
              count('relative-location')
            }
            return { status, headers }
          }
        })
        return true
      }
      case 'ecr': {
        const repo = /^\/v2\/(.+?)\/(?:blobs|manifests)\//.exec(path)?.[1]
        if (repo?.startsWith(ECR_MISSING_PREFIX) && method !== 'GET' && method !== 'HEAD') {
          count('repository-not-found')
          return refuse(
            req,
            res,
            404,
            errorBody(
              'NAME_UNKNOWN',
              `The repository with name '${repo}' does not exist in the registry with id '000000000000'`
            )
          )
        }
        if (isReferrers(path)) {
          count('referrers-405')
          return refuse(req, res, 405, errorBody('UNSUPPORTED', "Invalid parameter at 'referrers'"))
        }
        if (method === 'GET' && isBlobPath(path)) return redirectToSigned(req, res)
        const session = isUploadPath(path) ? (path.split('/').pop() ?? '') : ''
        if (method === 'PATCH') {
          const list = parts.get(session) ?? []
          list.push(length)
          parts.set(session, list)
        }
        if (method === 'PUT' && isUploadPath(path)) {
          const list = parts.get(session) ?? []
          if (list.slice(0, -1).some((n) => n < ECR_MIN_PART)) {
            count('part-too-small')
            return refuse(
              req,
              res,
              400,
              errorBody(
                'LAYER_PART_TOO_SMALL',
                'LayerPartTooSmallException: layer part size must be at least 5 MiB'
              )
            )
          }
        }
        p.forward(req, res, {
          mapResponse: (status, headers) => {
            if (headers['docker-content-digest']) count('no-digest-header')
            delete headers['docker-content-digest']
            if (method === 'PATCH' && status === 202) {
              count('patch-201')
              status = 201
            }
            // The Range after a PATCH sticks at the first part's end.
            if (session && headers.range && (parts.get(session)?.length ?? 0) > 1) {
              headers.range = `0-${(parts.get(session)?.[0] ?? 1) - 1}`
              count('range-stuck')
            }
            return { status, headers }
          }
        })
        return true
      }
      case 'dockerhub': {
        if (isReferrers(path)) {
          count('no-referrers-api')
          return refuse(req, res, 404, errorBody('NOT_FOUND', 'not found'))
        }
        if (isManifestPath(path) && (method === 'GET' || method === 'HEAD')) {
          // Only a GET counts against the limit.
          if (method === 'GET') remaining--
          count('rate-limit-headers')
          p.forward(req, res, {
            mapResponse: (status, headers) => ({
              status,
              headers: {
                ...headers,
                'ratelimit-limit': '200;w=21600',
                'ratelimit-remaining': `${remaining};w=21600`,
                'docker-ratelimit-source': '127.0.0.1'
              }
            })
          })
          return true
        }
        return false
      }
      case 'gar': {
        count('request')
        if (method === 'GET' && isBlobPath(path)) return redirectToSigned(req, res)
        if (isReferrers(path)) return refuse(req, res, 404, errorBody('NOT_FOUND', 'not found'))
        return false
      }
      case 'acr': {
        const range = req.headers['content-range']
        if (method === 'PATCH' && range && !/^\d+-\d+$/.test(String(range))) {
          count('bad-content-range')
          return refuse(req, res, 416, errorBody('BLOB_UPLOAD_INVALID', 'invalid content range'))
        }
        if (method === 'GET' && isBlobPath(path)) return redirectToSigned(req, res)
        if (isReferrers(path)) return refuse(req, res, 404, errorBody('NOT_FOUND', 'not found'))
        p.forward(req, res, {
          mapResponse: (status, headers) => {
            if (headers.location && isUploadPath(headers.location)) {
              const loc = new URL(headers.location, 'http://x')
              loc.searchParams.set('_nouploadcache', 'false')
              headers.location = loc.pathname + loc.search
              count('path-and-query-location')
            }
            return { status, headers }
          }
        })
        return true
      }
      case 'quay': {
        if (method === 'POST' && url.searchParams.has('mount') && !url.searchParams.has('from')) {
          count('mount-without-from')
          return refuse(req, res, 400, errorBody('UNSUPPORTED', 'mount requires from'))
        }
        if (
          method === 'PUT' &&
          isManifestPath(path) &&
          String(req.headers['content-type']).startsWith('application/vnd.oci.image.manifest')
        ) {
          const body = await readAllBody(req)
          const m = JSON.parse(body.toString('utf8')) as { layers?: { mediaType: string }[] }
          if (m.layers?.some((l) => l.mediaType.startsWith('application/vnd.docker.'))) {
            count('docker-layer-in-oci')
            return refuse(req, res, 400, errorBody('MANIFEST_INVALID', 'manifest invalid'))
          }
          return forwardBody(req, res, body, upstream)
        }
        return false
      }
      case 'harbor': {
        if (isReferrers(path) && method === 'GET') {
          count('referrers-api')
          const digest = path.split('/').pop() ?? ''
          const artifactType = url.searchParams.get('artifactType')
          const list = (referrers.get(digest) ?? []).filter(
            (d) => !artifactType || d.artifactType === artifactType
          )
          res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.index.v1+json' })
          res.end(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: 'application/vnd.oci.image.index.v1+json',
              manifests: list
            })
          )
          return true
        }
        if (method === 'PUT' && isManifestPath(path)) {
          const body = await readAllBody(req)
          const m = JSON.parse(body.toString('utf8')) as {
            subject?: { digest: string }
            artifactType?: string
            config?: { mediaType: string }
            annotations?: Record<string, string>
          }
          if (m.subject) {
            const { createHash } = await import('node:crypto')
            const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
            const list = referrers.get(m.subject.digest) ?? []
            list.push({
              mediaType: req.headers['content-type'],
              digest,
              size: body.length,
              artifactType: m.artifactType ?? m.config?.mediaType,
              ...(m.annotations ? { annotations: m.annotations } : {})
            })
            referrers.set(m.subject.digest, list)
          }
          return forwardBody(
            req,
            res,
            body,
            upstream,
            m.subject ? { 'OCI-Subject': m.subject.digest } : {}
          )
        }
        return false
      }
      case 'gitlab': {
        if (isReferrers(path)) return refuse(req, res, 404, errorBody('NOT_FOUND', 'not found'))
        if (method === 'PUT' && isManifestPath(path)) {
          const body = await readAllBody(req)
          const m = JSON.parse(body.toString('utf8')) as { subject?: { digest: string } }
          if (m.subject) {
            const repo = /^\/v2\/(.+?)\/manifests\//.exec(path)?.[1] ?? ''
            const head = await headStatus(
              upstream,
              `/v2/${repo}/manifests/${m.subject.digest}`,
              upstreamAuth
            )
            if (head === 404) {
              count('subject-missing')
              return refuse(req, res, 400, errorBody('MANIFEST_INVALID', 'subject not found'))
            }
          }
          return forwardBody(req, res, body, upstream)
        }
        return false
      }
      case 'artifactory': {
        if (method === 'HEAD' && (isManifestPath(path) || isBlobPath(path))) {
          const status = await headStatus(upstream, req.url ?? '', upstreamAuth)
          if (status === 404 && isManifestPath(path)) {
            count('head-403')
            return refuse(req, res, 403, '')
          }
          if (status === 404) {
            // Some versions say a blob is there that is not.
            count('head-lies')
            res.writeHead(200, {
              'Content-Length': '0',
              'Docker-Content-Digest': path.split('/').pop() ?? ''
            })
            res.end()
            return true
          }
        }
        if (method === 'PUT' && isManifestPath(path)) {
          p.forward(req, res, {
            mapResponse: (status, headers) => {
              if (status === 400) {
                count('manifest-blob-unknown')
                ex.resendable = true
              }
              return { status, headers }
            }
          })
          return true
        }
        return false
      }
      case 'nexus': {
        if (
          method === 'PUT' &&
          isManifestPath(path) &&
          String(req.headers['content-type']).includes('index')
        ) {
          const body = await readAllBody(req)
          // Nexus's cleanup task deletes an index without a top-level mediaType as orphaned
          // (zarf-dev/zarf #2351): shown here as a refusal, so a test sees it at once.
          const m = JSON.parse(body.toString('utf8')) as { mediaType?: string }
          if (!m.mediaType) {
            count('index-without-media-type')
            return refuse(req, res, 400, errorBody('MANIFEST_INVALID', 'mediaType missing'))
          }
          return forwardBody(req, res, body, upstream)
        }
        p.forward(req, res, {
          mapResponse: (status, headers) => {
            if (headers['docker-content-digest']) count('no-digest-header')
            delete headers['docker-content-digest']
            return { status, headers }
          }
        })
        return true
      }
      case 'cdn100mb': {
        if (length > CDN_MAX_BODY) {
          count('body-too-large')
          return refuse(
            req,
            res,
            413,
            '<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center><hr><center>cloudflare</center></body></html>',
            'text/html'
          )
        }
        // A front end that drops the length of HEAD answers.
        if (method === 'HEAD' && isManifestPath(path)) {
          p.forward(req, res, {
            mapResponse: (status, headers) => {
              if (status === 200) {
                headers['content-length'] = '0'
                count('head-length-0')
              }
              return { status, headers }
            }
          })
          return true
        }
        return false
      }
    }
  })
  signedHost = proxy.host.replace('127.0.0.1', 'localhost')
  return {
    name,
    proxy,
    host: proxy.host,
    counts,
    log,
    stop: () => proxy.stop()
  }
}

// The slab pools: a slab given back, or a view of one, goes back to the pool of its size and is
// the next one taken there; buffers of neither size are ignored.
import { giveSlab, READ_SLAB_SIZE, readSlabs, SLAB_SIZE, slabs } from './pool.js'

describe('giveSlab', () => {
  it('gives each slab back to the pool of its size, where it is taken again', () => {
    const small = slabs.take()
    const large = readSlabs.take()
    expect(small.length).toBe(SLAB_SIZE)
    expect(large.length).toBe(READ_SLAB_SIZE)
    giveSlab(small.subarray(0, 10))
    giveSlab(large.subarray(5, 99))
    expect(slabs.take().buffer).toBe(small.buffer)
    expect(readSlabs.take().buffer).toBe(large.buffer)
  })

  it('ignores buffers that are not slabs', () => {
    const plain = Buffer.alloc(SLAB_SIZE)
    const odd = Buffer.from(new SharedArrayBuffer(1000))
    giveSlab(plain)
    giveSlab(odd)
    expect(slabs.take().buffer).not.toBe(plain.buffer)
    expect(readSlabs.take().buffer).not.toBe(odd.buffer)
  })
})

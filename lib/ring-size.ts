/** BPF ring buffers are a power of two bytes, at least a page: the size to ask for. */
export function ringBufferSize(bytes: number): number {
  let size = 4096;
  while (size < bytes) size *= 2;
  return size;
}

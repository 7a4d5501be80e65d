/*
 * distill's WebAssembly interface to libdeflate's compressor (src/layers/libdeflate.ts uses it).
 * Exports only what JavaScript needs: memory for buffers, a compressor per level, and one call
 * compressing a chunk (final, or non-final ending with a sync flush: deflate-chunk.patch).
 * Built by build.mjs with no imports: the module instantiates with an empty import object.
 */
#include <stddef.h>
#include <stdlib.h>

struct libdeflate_compressor;
struct libdeflate_compressor *libdeflate_alloc_compressor(int compression_level);
void libdeflate_free_compressor(struct libdeflate_compressor *c);
size_t libdeflate_deflate_compress_bound(struct libdeflate_compressor *c, size_t in_nbytes);
size_t libdeflate_deflate_compress_chunk(struct libdeflate_compressor *c, const void *in,
                                         size_t in_nbytes, void *out, size_t out_nbytes_avail,
                                         int final);

__attribute__((export_name("malloc"))) void *distill_malloc(size_t n) { return malloc(n); }

__attribute__((export_name("free"))) void distill_free(void *p) { free(p); }

/* A compressor for a level 0-12, or 0 (NULL) when out of memory or the level is invalid. */
__attribute__((export_name("compressor_new"))) struct libdeflate_compressor *
distill_compressor_new(int level) {
  return libdeflate_alloc_compressor(level);
}

__attribute__((export_name("compressor_free"))) void
distill_compressor_free(struct libdeflate_compressor *c) {
  libdeflate_free_compressor(c);
}

/* Output bytes enough for any chunk of n input bytes, the sync flush included. */
__attribute__((export_name("bound"))) size_t distill_bound(struct libdeflate_compressor *c,
                                                             size_t n) {
  return libdeflate_deflate_compress_bound(c, n) + 8;
}

/* Compresses in[0..n) to out; the bytes written, or 0 when `avail` is too small. */
__attribute__((export_name("compress_chunk"))) size_t
distill_compress_chunk(struct libdeflate_compressor *c, const void *in, size_t n, void *out,
                       size_t avail, int final) {
  return libdeflate_deflate_compress_chunk(c, in, n, out, avail, final);
}

/*
 * berth_sha: SHA-256 / SHA-512 whose running state lives in a JS-owned Buffer.
 *
 * The hashing itself is OpenSSL's low-level SHA256_* / SHA512_* API. We do not link
 * OpenSSL: the node executable exports those symbols and the dynamic loader binds them
 * when this addon is loaded, so we hash with exactly the code (and CPU extensions)
 * that node:crypto uses. The headers come from Node's own header tree.
 *
 * The context is a plain Buffer holding the raw SHA256_CTX / SHA512_CTX bytes. It owns
 * no pointers, so it needs no finalizer and can be copied freely; digest() finalises a
 * copy so the caller can keep hashing.
 *
 * exportState / importState convert between that context and the encoding produced by
 * Go's crypto/sha256 and crypto/sha512 MarshalBinary, which is what CNCF distribution
 * stores under _uploads/<id>/hashstates/<alg>/<offset>:
 *
 *   sha256: "sha\x03" | h[0..7] as BE uint32 | 64-byte block buffer | BE uint64 length
 *   sha512: "sha\x07" | h[0..7] as BE uint64 | 128-byte block buffer | BE uint64 length
 *
 * The block buffer holds the (length mod blocksize) bytes not yet compressed, followed
 * by zero padding; the length is the total number of message bytes so far.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <openssl/sha.h>

#define KIND_SHA256 0
#define KIND_SHA512 1

#define SHA256_STATE_SIZE (4 + 8 * 4 + SHA256_CBLOCK + 8) /* 108 */
#define SHA512_STATE_SIZE (4 + 8 * 8 + SHA512_CBLOCK + 8) /* 204 */

static const unsigned char MAGIC_SHA256[4] = {'s', 'h', 'a', 0x03};
static const unsigned char MAGIC_SHA512[4] = {'s', 'h', 'a', 0x07};

#define ERR_CODE "ERR_BERTH_HASH_STATE"

/* ---- helpers ------------------------------------------------------------------ */

#define CALL(env, expr)                                                  \
  do {                                                                   \
    if ((expr) != napi_ok) {                                             \
      bool pending_ = false;                                             \
      napi_is_exception_pending((env), &pending_);                       \
      if (!pending_) napi_throw_error((env), NULL, "N-API call failed: " #expr); \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32));
  put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static uint64_t get_be64(const unsigned char *p) {
  return ((uint64_t)get_be32(p) << 32) | (uint64_t)get_be32(p + 4);
}

static size_t ctx_size(int kind) {
  return kind == KIND_SHA256 ? sizeof(SHA256_CTX) : sizeof(SHA512_CTX);
}

/* Reads args[i] as a hash kind (0 = sha256, 1 = sha512). */
static bool get_kind(napi_env env, napi_value v, int *kind) {
  int32_t k = -1;
  if (napi_get_value_int32(env, v, &k) != napi_ok || (k != KIND_SHA256 && k != KIND_SHA512)) {
    napi_throw_type_error(env, NULL, "hash kind must be 0 (sha256) or 1 (sha512)");
    return false;
  }
  *kind = k;
  return true;
}

/* Raw bytes of any TypedArray (a Buffer is a Uint8Array). */
static bool get_bytes(napi_env env, napi_value v, unsigned char **data, size_t *len, const char *what) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "cannot read typed array");
    return false;
  }
  size_t elem = 1;
  switch (type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: elem = 1; break;
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    default: elem = 8; break; /* float64, bigint64, biguint64 */
  }
  *data = (unsigned char *)ptr;
  *len = length * elem;
  return true;
}

/*
 * Fetches a context buffer and checks that it is one of ours: right size and a block
 * fill level that OpenSSL can never exceed. The second check matters because OpenSSL
 * uses `num` as an index into its block buffer; a forged value would write out of bounds.
 */
static bool get_ctx(napi_env env, napi_value v, int kind, unsigned char **ctx) {
  size_t len = 0;
  if (!get_bytes(env, v, ctx, &len, "hash context")) return false;
  if (len != ctx_size(kind)) {
    napi_throw_error(env, ERR_CODE, "hash context has the wrong size");
    return false;
  }
  unsigned int num, md_len;
  if (kind == KIND_SHA256) {
    memcpy(&num, *ctx + offsetof(SHA256_CTX, num), sizeof num);
    memcpy(&md_len, *ctx + offsetof(SHA256_CTX, md_len), sizeof md_len);
    if (num >= SHA256_CBLOCK || md_len != SHA256_DIGEST_LENGTH) goto bad;
  } else {
    memcpy(&num, *ctx + offsetof(SHA512_CTX, num), sizeof num);
    memcpy(&md_len, *ctx + offsetof(SHA512_CTX, md_len), sizeof md_len);
    if (num >= SHA512_CBLOCK || md_len != SHA512_DIGEST_LENGTH) goto bad;
  }
  return true;
bad:
  napi_throw_error(env, ERR_CODE, "hash context is corrupt");
  return false;
}

/* ---- exported functions --------------------------------------------------------- */

/* create(kind) -> Buffer: a freshly initialised context. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  if (argc < 1 || !get_kind(env, args[0], &kind)) return NULL;

  union { SHA256_CTX s256; SHA512_CTX s512; } c;
  memset(&c, 0, sizeof c);
  if (kind == KIND_SHA256) SHA256_Init(&c.s256); else SHA512_Init(&c.s512);

  napi_value out;
  void *data;
  CALL(env, napi_create_buffer_copy(env, ctx_size(kind), &c, &data, &out));
  return out;
}

/* update(kind, ctx, data): hashes data into ctx in place. */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  unsigned char *ctx, *data;
  size_t len;
  if (argc < 3 || !get_kind(env, args[0], &kind) || !get_ctx(env, args[1], kind, &ctx) ||
      !get_bytes(env, args[2], &data, &len, "data")) {
    return NULL;
  }
  if (len == 0) return NULL;

  if (kind == KIND_SHA256) {
    if (((uintptr_t)ctx % alignof(SHA256_CTX)) == 0) {
      SHA256_Update((SHA256_CTX *)(void *)ctx, data, len);
    } else {
      SHA256_CTX c;
      memcpy(&c, ctx, sizeof c);
      SHA256_Update(&c, data, len);
      memcpy(ctx, &c, sizeof c);
    }
  } else {
    if (((uintptr_t)ctx % alignof(SHA512_CTX)) == 0) {
      SHA512_Update((SHA512_CTX *)(void *)ctx, data, len);
    } else {
      SHA512_CTX c;
      memcpy(&c, ctx, sizeof c);
      SHA512_Update(&c, data, len);
      memcpy(ctx, &c, sizeof c);
    }
  }
  return NULL;
}

/* digest(kind, ctx) -> Buffer: the digest of everything so far; ctx is left untouched. */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  unsigned char *ctx;
  if (argc < 2 || !get_kind(env, args[0], &kind) || !get_ctx(env, args[1], kind, &ctx)) return NULL;

  unsigned char md[SHA512_DIGEST_LENGTH];
  size_t md_len;
  if (kind == KIND_SHA256) {
    SHA256_CTX c;
    memcpy(&c, ctx, sizeof c);
    SHA256_Final(md, &c);
    md_len = SHA256_DIGEST_LENGTH;
  } else {
    SHA512_CTX c;
    memcpy(&c, ctx, sizeof c);
    SHA512_Final(md, &c);
    md_len = SHA512_DIGEST_LENGTH;
  }
  napi_value out;
  void *data;
  CALL(env, napi_create_buffer_copy(env, md_len, md, &data, &out));
  return out;
}

/* exportState(kind, ctx) -> Buffer in Go's MarshalBinary encoding. */
static napi_value js_export_state(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  unsigned char *raw;
  if (argc < 2 || !get_kind(env, args[0], &kind) || !get_ctx(env, args[1], kind, &raw)) return NULL;

  unsigned char out_bytes[SHA512_STATE_SIZE];
  size_t out_len;
  memset(out_bytes, 0, sizeof out_bytes);

  if (kind == KIND_SHA256) {
    SHA256_CTX c;
    memcpy(&c, raw, sizeof c);
    /* Nh:Nl is a 64-bit count of message bits. */
    uint64_t total = ((((uint64_t)c.Nh) << 32) | (uint64_t)c.Nl) >> 3;
    if (total % SHA256_CBLOCK != c.num) {
      napi_throw_error(env, ERR_CODE, "hash context is inconsistent");
      return NULL;
    }
    unsigned char *p = out_bytes;
    memcpy(p, MAGIC_SHA256, 4);
    p += 4;
    for (int i = 0; i < 8; i++, p += 4) put_be32(p, c.h[i]);
    /* OpenSSL keeps pending input as raw message bytes in c.data. */
    memcpy(p, c.data, c.num);
    p += SHA256_CBLOCK;
    put_be64(p, total);
    out_len = SHA256_STATE_SIZE;
  } else {
    SHA512_CTX c;
    memcpy(&c, raw, sizeof c);
    /* Nh:Nl is a 128-bit count of message bits; Go keeps a 64-bit byte count. */
    uint64_t total = (c.Nl >> 3) | (c.Nh << 61);
    if (total % SHA512_CBLOCK != c.num) {
      napi_throw_error(env, ERR_CODE, "hash context is inconsistent");
      return NULL;
    }
    unsigned char *p = out_bytes;
    memcpy(p, MAGIC_SHA512, 4);
    p += 4;
    for (int i = 0; i < 8; i++, p += 8) put_be64(p, c.h[i]);
    memcpy(p, c.u.p, c.num);
    p += SHA512_CBLOCK;
    put_be64(p, total);
    out_len = SHA512_STATE_SIZE;
  }

  napi_value out;
  void *data;
  CALL(env, napi_create_buffer_copy(env, out_len, out_bytes, &data, &out));
  return out;
}

/*
 * importState(kind, state) -> Buffer context. Accepts what Go's UnmarshalBinary accepts:
 * right magic and exact size. Like Go, bytes of the block buffer past (length mod
 * blocksize) are ignored.
 */
static napi_value js_import_state(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  unsigned char *st;
  size_t len;
  if (argc < 2 || !get_kind(env, args[0], &kind) || !get_bytes(env, args[1], &st, &len, "hash state")) {
    return NULL;
  }

  const unsigned char *magic = kind == KIND_SHA256 ? MAGIC_SHA256 : MAGIC_SHA512;
  size_t want = kind == KIND_SHA256 ? SHA256_STATE_SIZE : SHA512_STATE_SIZE;
  if (len < 4 || memcmp(st, magic, 4) != 0) {
    napi_throw_error(env, ERR_CODE, "invalid hash state identifier");
    return NULL;
  }
  if (len != want) {
    napi_throw_error(env, ERR_CODE, "invalid hash state size");
    return NULL;
  }

  union { SHA256_CTX s256; SHA512_CTX s512; } c;
  memset(&c, 0, sizeof c);
  const unsigned char *p = st + 4;
  if (kind == KIND_SHA256) {
    for (int i = 0; i < 8; i++, p += 4) c.s256.h[i] = get_be32(p);
    const unsigned char *block = p;
    p += SHA256_CBLOCK;
    uint64_t total = get_be64(p);
    uint64_t bits = total << 3; /* wraps like Go's own length encoding does */
    c.s256.Nl = (SHA_LONG)bits;
    c.s256.Nh = (SHA_LONG)(bits >> 32);
    c.s256.num = (unsigned int)(total % SHA256_CBLOCK);
    memcpy(c.s256.data, block, c.s256.num);
    c.s256.md_len = SHA256_DIGEST_LENGTH;
  } else {
    for (int i = 0; i < 8; i++, p += 8) c.s512.h[i] = get_be64(p);
    const unsigned char *block = p;
    p += SHA512_CBLOCK;
    uint64_t total = get_be64(p);
    c.s512.Nl = total << 3;
    c.s512.Nh = total >> 61;
    c.s512.num = (unsigned int)(total % SHA512_CBLOCK);
    memcpy(c.s512.u.p, block, c.s512.num);
    c.s512.md_len = SHA512_DIGEST_LENGTH;
  }

  napi_value out;
  void *data;
  CALL(env, napi_create_buffer_copy(env, ctx_size(kind), &c, &data, &out));
  return out;
}


/* ---- hashing off the event loop ------------------------------------------------- */

/*
 * updateAsync(kind, ctx, chunks[]) -> Promise: hashes the chunks into ctx on a libuv pool
 * thread. The caller must not touch ctx (or the chunks) until the promise settles; references
 * keep them alive meanwhile. Jobs on one ctx must be chained by the caller so they run in order.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int kind;
  unsigned char *ctx;
  napi_ref ctx_ref;
  size_t count;
  unsigned char **ptrs;
  size_t *lens;
  napi_ref *refs;
} update_job;

static void job_free(napi_env env, update_job *job) {
  for (size_t i = 0; i < job->count; i++) {
    if (job->refs[i]) napi_delete_reference(env, job->refs[i]);
  }
  if (job->ctx_ref) napi_delete_reference(env, job->ctx_ref);
  free(job->ptrs);
  free(job->lens);
  free(job->refs);
  free(job);
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  update_job *job = data;
  if (job->kind == KIND_SHA256) {
    SHA256_CTX c;
    memcpy(&c, job->ctx, sizeof c);
    for (size_t i = 0; i < job->count; i++) SHA256_Update(&c, job->ptrs[i], job->lens[i]);
    memcpy(job->ctx, &c, sizeof c);
  } else {
    SHA512_CTX c;
    memcpy(&c, job->ctx, sizeof c);
    for (size_t i = 0; i < job->count; i++) SHA512_Update(&c, job->ptrs[i], job->lens[i]);
    memcpy(job->ctx, &c, sizeof c);
  }
}

static void job_complete(napi_env env, napi_status status, void *data) {
  update_job *job = data;
  napi_value result;
  if (status == napi_ok) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, "background hashing was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  job_free(env, job);
}

static napi_value js_update_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CALL(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  int kind;
  unsigned char *ctx;
  bool is_array = false;
  if (argc < 3 || !get_kind(env, args[0], &kind) || !get_ctx(env, args[1], kind, &ctx)) return NULL;
  if (napi_is_array(env, args[2], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "chunks must be an array of Uint8Array");
    return NULL;
  }
  uint32_t count = 0;
  CALL(env, napi_get_array_length(env, args[2], &count));
  update_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->kind = kind;
  job->ctx = ctx;
  job->count = 0;
  job->ptrs = calloc(count ? count : 1, sizeof *job->ptrs);
  job->lens = calloc(count ? count : 1, sizeof *job->lens);
  job->refs = calloc(count ? count : 1, sizeof *job->refs);
  if (!job->ptrs || !job->lens || !job->refs) {
    job_free(env, job);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    if (napi_get_element(env, args[2], i, &el) != napi_ok || !get_bytes(env, el, &job->ptrs[i], &job->lens[i], "chunk") ||
        napi_create_reference(env, el, 1, &job->refs[i]) != napi_ok) {
      job->count = i;
      job_free(env, job);
      return NULL;
    }
    job->count = i + 1;
  }
  napi_value promise, name;
  if (napi_create_reference(env, args[1], 1, &job->ctx_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "berth_sha_update", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    job_free(env, job);
    napi_throw_error(env, NULL, "cannot queue background hashing");
    return NULL;
  }
  return promise;
}

/* ---- module registration ----------------------------------------------------------- */


static napi_value init(napi_env env, napi_value exports) {
  napi_value v256, v512, stateSize256, stateSize512;
  napi_create_uint32(env, KIND_SHA256, &v256);
  napi_create_uint32(env, KIND_SHA512, &v512);
  napi_create_uint32(env, SHA256_STATE_SIZE, &stateSize256);
  napi_create_uint32(env, SHA512_STATE_SIZE, &stateSize512);
  napi_property_descriptor props[] = {
    {"create", NULL, js_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"update", NULL, js_update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"updateAsync", NULL, js_update_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"digest", NULL, js_digest, NULL, NULL, NULL, napi_enumerable, NULL},
    {"exportState", NULL, js_export_state, NULL, NULL, NULL, napi_enumerable, NULL},
    {"importState", NULL, js_import_state, NULL, NULL, NULL, napi_enumerable, NULL},
    {"SHA256", NULL, NULL, NULL, NULL, v256, napi_enumerable, NULL},
    {"SHA512", NULL, NULL, NULL, NULL, v512, napi_enumerable, NULL},
    {"SHA256_STATE_SIZE", NULL, NULL, NULL, NULL, stateSize256, napi_enumerable, NULL},
    {"SHA512_STATE_SIZE", NULL, NULL, NULL, NULL, stateSize512, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

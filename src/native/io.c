/*
 * berth_io: the few system calls Node does not expose that make blob transfers run at disk and
 * loopback speed. Linux only; every user has a JavaScript fallback.
 *
 * 1. sendfile(2) from a file to a TCP socket, on a libuv pool thread (blob downloads,
 *    src/http/file-response.ts).
 * 2. Page-aligned buffers for O_DIRECT writes and reads (upload data, cold blob downloads).
 * 3. Whole small files (links, manifests) read in one pool job instead of the four round trips
 *    (open, fstat, read, close) that fs.promises needs (src/storage/driver/filesystem.ts).
 * 4. Small files written atomically (temp file, write, fdatasync, rename, parents created as
 *    needed) in one pool job instead of six or more (src/storage/driver/filesystem.ts).
 * 5. recv: a request body read from a TCP socket straight into large buffers, on a pool thread
 *    (large uploads, src/http/native-body.ts).
 * 6. resident: how much of a file is in the page cache, sampled with mincore(2), so a download
 *    of a blob that is not there reads it with O_DIRECT (src/http/file-response.ts).
 * 7. relay: bytes moved from one TCP socket to another on a pool thread (a blob streamed from
 *    an object store to a client, src/http/socket-relay.ts).
 *
 * ---- sendfile ----------------------------------------------------------------------------
 *
 * Serving a blob by read() + write() copies every byte through user space twice and keeps the
 * event loop busy with both halves; sendfile moves page-cache pages to the socket inside the
 * kernel, which is how the reference (Go's io.Copy to a TCP connection) serves blobs.
 *
 * sendfile(sock, file, offset, length, budgetMs) -> Promise<[sent, errno, stalled]>
 *
 * The socket descriptor is dup()ed on the calling (main) thread, so the pool thread never writes
 * to a descriptor number that JavaScript may close and the kernel may hand to another file
 * meanwhile. Node's sockets are non-blocking (the flag lives on the shared open file
 * description), so a full socket buffer returns EAGAIN; the job then waits in poll() for the
 * socket to drain, for no longer than budgetMs overall. A job always returns within about
 * budgetMs, so the caller gets a chance to notice aborts and slow clients between jobs:
 *   sent    bytes written by this job
 *   errno   0, or the error that ended the transfer (EPIPE, ECONNRESET, ...)
 *   stalled 1 when the socket stayed full for the whole budget (a slow reader); a job that sent
 *           bytes and then ran out of budget waiting for room returns 0 (its client is reading)
 * sent < length with errno 0 and stalled 0 means the file ended early, or the budget ran out
 * while bytes were moving; the caller simply continues from offset + sent.
 * The caller keeps the file descriptor open until the promise settles.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* One sendfile call moves at most this much, so the budget is checked between calls. */
#define MAX_CALL ((size_t)16 << 20)

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int sock;
  int file;
  int64_t offset;
  int64_t length;
  int64_t budget_ms;
  int64_t sent;
  int err;
  int stalled;
} sendfile_job;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait in poll() until `fd` is ready for `events` or the deadline passes: 1 ready (or an error or
 * hang-up the next call will report), 0 the deadline passed, -1 poll failed (errno in *err).
 */
static int wait_ready(int fd, short events, int64_t deadline, int *err) {
  int64_t left = deadline - now_ms();
  if (left <= 0) return 0;
  struct pollfd p = {.fd = fd, .events = events, .revents = 0};
  int r = poll(&p, 1, (int)left);
  if (r < 0 && errno != EINTR) {
    *err = errno;
    return -1;
  }
  return r != 0;
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  sendfile_job *job = data;
  const int64_t deadline = now_ms() + job->budget_ms;
  off_t off = (off_t)job->offset;
  while (job->sent < job->length) {
    size_t want = (size_t)(job->length - job->sent);
    if (want > MAX_CALL) want = MAX_CALL;
    ssize_t n = sendfile(job->sock, job->file, &off, want);
    if (n > 0) {
      job->sent += n;
      if (now_ms() >= deadline) return;
      continue;
    }
    if (n == 0) return; /* end of file */
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      job->err = errno;
      return;
    }
    int ready = wait_ready(job->sock, POLLOUT, deadline, &job->err);
    if (ready < 0) return;
    if (ready == 0) {
      /* Budget gone while waiting for room: a slow reader only if nothing went out at all. */
      job->stalled = job->sent == 0;
      return;
    }
  }
}

/* Settle a job's promise: resolved with an array of numbers, or rejected when it was cancelled. */
static void settle_numbers(napi_env env, napi_deferred deferred, napi_status status, const double *values, uint32_t count,
                           const char *what) {
  napi_value result, v;
  if (status == napi_ok && napi_create_array_with_length(env, count, &result) == napi_ok) {
    for (uint32_t i = 0; i < count; i++) {
      napi_create_double(env, values[i], &v);
      napi_set_element(env, result, i, v);
    }
    napi_resolve_deferred(env, deferred, result);
  } else {
    char msg_text[64];
    snprintf(msg_text, sizeof msg_text, "%s job was cancelled", what);
    napi_value msg;
    napi_create_string_utf8(env, msg_text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, deferred, result);
  }
}

static void job_complete(napi_env env, napi_status status, void *data) {
  sendfile_job *job = data;
  close(job->sock);
  const double values[3] = {(double)job->sent, (double)job->err, (double)job->stalled};
  settle_numbers(env, job->deferred, status, values, 3, "sendfile");
  napi_delete_async_work(env, job->work);
  free(job);
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/* Every job struct starts with these two fields, so one helper can queue any of them. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
} job_head;

/* Queue `job` on the libuv pool; the promise, or NULL (nothing queued, the caller frees). */
static napi_value queue_job(napi_env env, void *job, const char *name, napi_async_execute_callback execute,
                            napi_async_complete_callback complete) {
  job_head *head = job;
  napi_value promise, resource;
  if (napi_create_promise(env, &head->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource) != napi_ok ||
      napi_create_async_work(env, NULL, resource, execute, complete, job, &head->work) != napi_ok ||
      napi_queue_async_work(env, head->work) != napi_ok) {
    return NULL;
  }
  return promise;
}

/* A copy of a JS string argument; NULL when it is not a non-empty string without NUL bytes (an
 * embedded NUL would silently name another file) or memory ran out. */
static char *path_arg(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0) return NULL;
  char *out = malloc(len + 1);
  if (!out) return NULL;
  napi_get_value_string_utf8(env, v, out, len + 1, &len);
  if (strlen(out) != len) {
    free(out);
    return NULL;
  }
  return out;
}

/* Reject with an Error whose `code` is the errno name, as Node's own fs errors. */
static void reject_errno(napi_env env, napi_deferred deferred, int e) {
  napi_value code, msg, err;
  napi_create_string_utf8(env, uv_err_name(-e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &err);
  napi_set_named_property(env, err, "code", code);
  napi_reject_deferred(env, deferred, err);
}

/* A zeroed job struct; NULL, with a JS error thrown, when memory ran out. */
static void *alloc_job(napi_env env, size_t size) {
  void *job = calloc(1, size);
  if (!job) napi_throw_error(env, NULL, "out of memory");
  return job;
}

/* A private descriptor for a socket (see sendfile); -1, with a JS error thrown, on failure. */
static int dup_socket(napi_env env, int64_t sock, const char *what) {
  int fd = fcntl((int)sock, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    char msg[80];
    snprintf(msg, sizeof msg, "%s: cannot duplicate the socket descriptor", what);
    napi_throw_error(env, NULL, msg);
  }
  return fd;
}

static napi_value js_sendfile(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t sock, file, offset, length, budget;
  if (argc < 5 || !get_i64(env, args[0], &sock) || !get_i64(env, args[1], &file) || !get_i64(env, args[2], &offset) ||
      !get_i64(env, args[3], &length) || !get_i64(env, args[4], &budget) || sock < 0 || file < 0 || offset < 0 ||
      length < 0 || budget <= 0 || sock > INT32_MAX || file > INT32_MAX) {
    napi_throw_type_error(env, NULL, "sendfile(sock, file, offset, length, budgetMs) takes non-negative integers");
    return NULL;
  }
  sendfile_job *job = alloc_job(env, sizeof *job);
  if (!job) return NULL;
  if ((job->sock = dup_socket(env, sock, "sendfile")) < 0) {
    free(job);
    return NULL;
  }
  job->file = (int)file;
  job->offset = offset;
  job->length = length;
  job->budget_ms = budget;
  napi_value promise = queue_job(env, job, "berth_sendfile", job_execute, job_complete);
  if (!promise) {
    close(job->sock);
    free(job);
    napi_throw_error(env, NULL, "sendfile: cannot queue the job");
  }
  return promise;
}

/*
 * ---- recv ----------------------------------------------------------------------------------
 *
 * recv(sock, buffer, offset, length, budgetMs) -> Promise<[received, errno, eof]>
 *
 * Reads up to `length` bytes from the socket into buffer[offset..], on a pool thread. Node reads
 * sockets 64 KiB at a time and runs its HTTP parser, a stream push and a promise hop per read;
 * for a gigabyte upload that is the event loop's whole budget. The socket is dup()ed as for
 * sendfile, and an empty socket is waited for in poll(), for no longer than budgetMs overall.
 *   received bytes read by this job (the job returns once `length` bytes arrived)
 *   errno    0, or the error that ended the connection (ECONNRESET, ...)
 *   eof      1 when the peer closed its side
 * A job that returns with received < length, errno 0 and eof 0 ran out of budget.
 * The caller keeps `buffer` untouched until the promise settles (a reference keeps it alive).
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int sock;
  napi_ref buffer_ref;
  unsigned char *dest;
  int64_t length;
  int64_t budget_ms;
  int64_t received;
  int err;
  int eof;
} recv_job;

static void recv_execute(napi_env env, void *data) {
  (void)env;
  recv_job *job = data;
  const int64_t deadline = now_ms() + job->budget_ms;
  while (job->received < job->length) {
    ssize_t n = recv(job->sock, job->dest + job->received, (size_t)(job->length - job->received), 0);
    if (n > 0) {
      job->received += n;
      continue;
    }
    if (n == 0) {
      job->eof = 1;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      job->err = errno;
      return;
    }
    if (wait_ready(job->sock, POLLIN, deadline, &job->err) <= 0) return;
  }
}

static void recv_complete(napi_env env, napi_status status, void *data) {
  recv_job *job = data;
  close(job->sock);
  napi_delete_reference(env, job->buffer_ref);
  const double values[3] = {(double)job->received, (double)job->err, (double)job->eof};
  settle_numbers(env, job->deferred, status, values, 3, "recv");
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t sock, offset, length, budget;
  void *base = NULL;
  size_t size = 0;
  bool is_buffer = false;
  if (argc < 5 || !get_i64(env, args[0], &sock) || napi_is_buffer(env, args[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, args[1], &base, &size) != napi_ok || !get_i64(env, args[2], &offset) ||
      !get_i64(env, args[3], &length) || !get_i64(env, args[4], &budget) || sock < 0 || sock > INT32_MAX || offset < 0 ||
      length <= 0 || budget <= 0 || (uint64_t)offset + (uint64_t)length > size) {
    napi_throw_type_error(env, NULL, "recv(sock, buffer, offset, length, budgetMs): bad arguments");
    return NULL;
  }
  recv_job *job = alloc_job(env, sizeof *job);
  if (!job) return NULL;
  if ((job->sock = dup_socket(env, sock, "recv")) < 0) {
    free(job);
    return NULL;
  }
  if (napi_create_reference(env, args[1], 1, &job->buffer_ref) != napi_ok) {
    close(job->sock);
    free(job);
    napi_throw_error(env, NULL, "recv: cannot reference the buffer");
    return NULL;
  }
  job->dest = (unsigned char *)base + offset;
  job->length = length;
  job->budget_ms = budget;
  napi_value promise = queue_job(env, job, "berth_recv", recv_execute, recv_complete);
  if (!promise) {
    napi_delete_reference(env, job->buffer_ref);
    close(job->sock);
    free(job);
    napi_throw_error(env, NULL, "recv: cannot queue the job");
  }
  return promise;
}

/*
 * ---- resident --------------------------------------------------------------------------------
 *
 * resident(fd, offset, length, samples) -> number: the fraction (0..1) of `samples` pages, spread
 * evenly over [offset, offset + length), that are in the page cache. Synchronous and cheap: the
 * file is mapped but never touched, and mincore() only looks the pages up. -1 when the file cannot
 * be mapped (then nothing is known).
 */
static napi_value js_resident(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t fd, offset, length, samples;
  if (argc < 4 || !get_i64(env, args[0], &fd) || !get_i64(env, args[1], &offset) || !get_i64(env, args[2], &length) ||
      !get_i64(env, args[3], &samples) || fd < 0 || fd > INT32_MAX || offset < 0 || length <= 0 || samples <= 0 ||
      samples > 4096) {
    napi_throw_type_error(env, NULL, "resident(fd, offset, length, samples) takes positive integers");
    return NULL;
  }
  const int64_t page = sysconf(_SC_PAGESIZE);
  const int64_t start = offset - offset % page;
  const size_t span = (size_t)(offset + length - start);
  double fraction = -1;
  void *map = mmap(NULL, span, PROT_READ, MAP_SHARED, (int)fd, (off_t)start);
  if (map != MAP_FAILED) {
    int64_t hits = 0;
    for (int64_t i = 0; i < samples; i++) {
      int64_t at = (offset - start) + (length - 1) * i / (samples > 1 ? samples - 1 : 1);
      at -= at % page;
      unsigned char vec = 0;
      if (mincore((char *)map + at, 1, &vec) == 0 && (vec & 1)) hits++;
    }
    munmap(map, span);
    fraction = (double)hits / (double)samples;
  }
  napi_value out;
  napi_create_double(env, fraction, &out);
  return out;
}

/*
 * ---- relay ---------------------------------------------------------------------------------
 *
 * relay(src, dst, buffer, pendingStart, pendingEnd, maxIn, budgetMs)
 *   -> Promise<[received, sent, pendingStart, pendingEnd, errno, eof, stalled]>
 *
 * Moves bytes from socket `src` to socket `dst` through `buffer` on a pool thread: first the
 * bytes buffer[pendingStart, pendingEnd) left by the previous job, then up to maxIn more read from
 * src. Both sockets are dup()ed as for sendfile. The job returns once maxIn bytes were read and
 * everything was sent, or src ended (eof) or failed (errno), or budgetMs ran out: `stalled` 1 when
 * it ran out waiting for dst to drain (a slow client), 0 when waiting for src. The unsent bytes
 * are buffer[pendingStart, pendingEnd) of the result; the caller passes them to the next job.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int src;
  int dst;
  napi_ref buffer_ref;
  unsigned char *buf;
  size_t cap;
  size_t ps;
  size_t pe;
  int64_t max_in;
  int64_t budget_ms;
  int64_t received;
  int64_t sent;
  int err;
  int eof;
  int stalled;
} relay_job;

static void relay_execute(napi_env env, void *data) {
  (void)env;
  relay_job *job = data;
  const int64_t deadline = now_ms() + job->budget_ms;
  for (;;) {
    int wait_fd, wait_events;
    if (job->ps < job->pe) {
      ssize_t n = send(job->dst, job->buf + job->ps, job->pe - job->ps, MSG_NOSIGNAL);
      if (n > 0) {
        job->ps += (size_t)n;
        job->sent += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        job->err = errno;
        return;
      }
      wait_fd = job->dst;
      wait_events = POLLOUT;
    } else {
      job->ps = job->pe = 0;
      if (job->max_in <= 0 || job->eof) return;
      size_t want = job->cap;
      if ((int64_t)want > job->max_in) want = (size_t)job->max_in;
      ssize_t n = recv(job->src, job->buf, want, 0);
      if (n > 0) {
        job->pe = (size_t)n;
        job->received += n;
        job->max_in -= n;
        continue;
      }
      if (n == 0) {
        job->eof = 1;
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        job->err = errno;
        return;
      }
      wait_fd = job->src;
      wait_events = POLLIN;
    }
    int ready = wait_ready(wait_fd, (short)wait_events, deadline, &job->err);
    if (ready < 0) return;
    if (ready == 0) {
      job->stalled = wait_fd == job->dst;
      return;
    }
  }
}

static void relay_complete(napi_env env, napi_status status, void *data) {
  relay_job *job = data;
  close(job->src);
  close(job->dst);
  napi_delete_reference(env, job->buffer_ref);
  const double values[7] = {(double)job->received, (double)job->sent, (double)job->ps, (double)job->pe,
                            (double)job->err, (double)job->eof, (double)job->stalled};
  settle_numbers(env, job->deferred, status, values, 7, "relay");
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_relay(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value args[7];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t src, dst, ps, pe, max_in, budget;
  void *base = NULL;
  size_t size = 0;
  bool is_buffer = false;
  if (argc < 7 || !get_i64(env, args[0], &src) || !get_i64(env, args[1], &dst) || napi_is_buffer(env, args[2], &is_buffer) != napi_ok ||
      !is_buffer || napi_get_buffer_info(env, args[2], &base, &size) != napi_ok || !get_i64(env, args[3], &ps) ||
      !get_i64(env, args[4], &pe) || !get_i64(env, args[5], &max_in) || !get_i64(env, args[6], &budget) || src < 0 ||
      src > INT32_MAX || dst < 0 || dst > INT32_MAX || ps < 0 || pe < ps || (uint64_t)pe > size || max_in < 0 || budget <= 0 ||
      size == 0) {
    napi_throw_type_error(env, NULL, "relay(src, dst, buffer, pendingStart, pendingEnd, maxIn, budgetMs): bad arguments");
    return NULL;
  }
  relay_job *job = alloc_job(env, sizeof *job);
  if (!job) return NULL;
  job->src = dup_socket(env, src, "relay");
  job->dst = job->src < 0 ? -1 : dup_socket(env, dst, "relay");
  if (job->dst < 0) {
    if (job->src >= 0) close(job->src);
    free(job);
    return NULL;
  }
  if (napi_create_reference(env, args[2], 1, &job->buffer_ref) != napi_ok) {
    close(job->src);
    close(job->dst);
    free(job);
    napi_throw_error(env, NULL, "relay: cannot reference the buffer");
    return NULL;
  }
  job->buf = base;
  job->cap = size;
  job->ps = (size_t)ps;
  job->pe = (size_t)pe;
  job->max_in = max_in;
  job->budget_ms = budget;
  napi_value promise = queue_job(env, job, "berth_relay", relay_execute, relay_complete);
  if (!promise) {
    napi_delete_reference(env, job->buffer_ref);
    close(job->src);
    close(job->dst);
    free(job);
    napi_throw_error(env, NULL, "relay: cannot queue the job");
  }
  return promise;
}

/*
 * ---- aligned buffers -----------------------------------------------------------------------
 *
 * alignedBuffer(size) -> Buffer whose memory starts on a page boundary, as O_DIRECT requires of
 * the memory it transfers (and of the file offset and length, which the caller takes care of).
 * The memory is freed when the Buffer is garbage collected.
 */
#define ALIGNMENT 4096

static void free_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value js_aligned_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t size;
  if (argc < 1 || !get_i64(env, args[0], &size) || size <= 0 || size > ((int64_t)1 << 30) || size % ALIGNMENT != 0) {
    napi_throw_range_error(env, NULL, "alignedBuffer(size) takes a positive multiple of 4096 up to 1 GiB");
    return NULL;
  }
  void *mem = NULL;
  if (posix_memalign(&mem, ALIGNMENT, (size_t)size) != 0) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_value out;
  if (napi_create_external_buffer(env, (size_t)size, mem, free_aligned, NULL, &out) != napi_ok) {
    free(mem);
    napi_throw_error(env, NULL, "alignedBuffer: cannot create the buffer");
    return NULL;
  }
  return out;
}

/*
 * ---- whole small files -----------------------------------------------------------------------
 *
 * readFile(path, maxBytes) -> Promise<Buffer>: open, fstat, read to the end and close, all on one
 * pool thread. Rejects with an Error whose `code` is the errno name (ENOENT, ENOTDIR, EISDIR for a
 * directory, EFBIG when the file is larger than maxBytes, ...), as Node's own fs errors.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int64_t max;
  unsigned char *data;
  size_t len;
  int err;
} read_job;

static void read_execute(napi_env env, void *data) {
  (void)env;
  read_job *job = data;
  int fd;
  do {
    fd = open(job->path, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    job->err = errno;
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    job->err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    job->err = EISDIR;
  } else if ((int64_t)st.st_size > job->max) {
    job->err = EFBIG;
  } else {
    /* One byte more than the size, so a file that grew meanwhile is noticed and read on. */
    size_t cap = (size_t)st.st_size + 1;
    job->data = malloc(cap);
    if (!job->data) job->err = ENOMEM;
    while (!job->err) {
      if (job->len == cap) {
        if ((int64_t)cap > job->max) {
          job->err = EFBIG;
          break;
        }
        unsigned char *bigger = realloc(job->data, cap * 2);
        if (!bigger) {
          job->err = ENOMEM;
          break;
        }
        job->data = bigger;
        cap *= 2;
      }
      ssize_t n = read(fd, job->data + job->len, cap - job->len);
      if (n > 0) job->len += (size_t)n;
      else if (n == 0) break;
      else if (errno != EINTR) job->err = errno;
    }
  }
  close(fd);
}

static void read_complete(napi_env env, napi_status status, void *data) {
  read_job *job = data;
  napi_value result;
  if (status == napi_ok && !job->err) {
    void *copy;
    if (napi_create_buffer_copy(env, job->len, job->len ? (const void *)job->data : (const void *)"", &copy, &result) == napi_ok) {
      napi_resolve_deferred(env, job->deferred, result);
    } else {
      job->err = ENOMEM;
    }
  }
  if (status != napi_ok || job->err) reject_errno(env, job->deferred, status == napi_ok ? job->err : ECANCELED);
  napi_delete_async_work(env, job->work);
  free(job->data);
  free(job->path);
  free(job);
}

static napi_value js_read_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  int64_t max;
  if (argc < 2 || !get_i64(env, args[1], &max) || max < 0) {
    napi_throw_type_error(env, NULL, "readFile(path, maxBytes) takes a path and a non-negative size");
    return NULL;
  }
  char *path = path_arg(env, args[0]);
  read_job *job = path ? calloc(1, sizeof *job) : NULL;
  if (!job) {
    free(path);
    napi_throw_type_error(env, NULL, "readFile: the path must be a non-empty string without NUL bytes");
    return NULL;
  }
  job->path = path;
  job->max = max;
  napi_value promise = queue_job(env, job, "berth_read_file", read_execute, read_complete);
  if (!promise) {
    free(job->path);
    free(job);
    napi_throw_error(env, NULL, "readFile: cannot queue the job");
  }
  return promise;
}

/*
 * ---- atomic small writes -------------------------------------------------------------------
 *
 * writeFileAtomic(path, tmp, data, sync) -> Promise<void>: create `tmp` (O_EXCL; it must be a
 * sibling of `path`), write `data`, fdatasync (unless sync is false), close and rename it over
 * `path`, so readers see the old content or the new, never a mix. Without the fdatasync a crash
 * may leave the file empty; callers pass false only for content they can rebuild. Missing parent directories are created (mode 0777 less the umask),
 * retried a few times because a concurrent prune may remove a parent between mkdir and open. On
 * failure the temp file is removed and the promise rejects with `code` set as Node's fs errors.
 */
#define PARENT_RETRIES 8

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  char *tmp;
  unsigned char *data;
  size_t len;
  bool sync;
  int err;
} put_job;

/* mkdir -p of `dir` (modified in place while recursing, restored on return). */
static int mkdir_parents(char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return -1;
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return -1;
  *slash = '\0';
  int r = mkdir_parents(dir);
  *slash = '/';
  if (r != 0) return -1;
  return mkdir(dir, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static void put_execute(napi_env env, void *data) {
  (void)env;
  put_job *job = data;
  int fd = -1;
  for (int attempt = 0;; attempt++) {
    fd = open(job->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) break;
    if (errno == EINTR) continue;
    if (errno != ENOENT || attempt >= PARENT_RETRIES) {
      job->err = errno;
      return;
    }
    char *slash = strrchr(job->tmp, '/');
    if (!slash || slash == job->tmp) {
      job->err = ENOENT;
      return;
    }
    *slash = '\0';
    int r = mkdir_parents(job->tmp);
    int saved = errno;
    *slash = '/';
    if (r != 0) {
      job->err = saved;
      return;
    }
  }
  for (size_t done = 0; done < job->len;) {
    ssize_t n = write(fd, job->data + done, job->len - done);
    if (n > 0) {
      done += (size_t)n;
    } else if (n < 0 && errno != EINTR) {
      job->err = errno;
      break;
    }
  }
  if (!job->err && job->sync && fdatasync(fd) != 0) job->err = errno;
  if (close(fd) != 0 && !job->err && errno != EINTR) job->err = errno;
  if (!job->err && rename(job->tmp, job->path) != 0) job->err = errno;
  if (job->err) unlink(job->tmp);
}

static void put_complete(napi_env env, napi_status status, void *data) {
  put_job *job = data;
  napi_value result;
  if (status == napi_ok && !job->err) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    reject_errno(env, job->deferred, status == napi_ok ? job->err : ECANCELED);
  }
  napi_delete_async_work(env, job->work);
  free(job->data);
  free(job->path);
  free(job->tmp);
  free(job);
}

static napi_value js_write_file_atomic(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  void *bytes = NULL;
  size_t len = 0;
  bool is_buffer = false;
  bool sync = true;
  if (argc < 3 || napi_is_buffer(env, args[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, args[2], &bytes, &len) != napi_ok || (argc > 3 && napi_get_value_bool(env, args[3], &sync) != napi_ok)) {
    napi_throw_type_error(env, NULL, "writeFileAtomic(path, tmp, data, sync) takes two paths, a Buffer and a boolean");
    return NULL;
  }
  put_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->sync = sync;
  job->path = path_arg(env, args[0]);
  job->tmp = path_arg(env, args[1]);
  job->data = malloc(len ? len : 1);
  if (!job->path || !job->tmp || !job->data) {
    free(job->path);
    free(job->tmp);
    free(job->data);
    free(job);
    napi_throw_type_error(env, NULL, "writeFileAtomic: paths must be non-empty strings without NUL bytes");
    return NULL;
  }
  if (len) memcpy(job->data, bytes, len);
  job->len = len;
  napi_value promise = queue_job(env, job, "berth_write_file", put_execute, put_complete);
  if (!promise) {
    free(job->path);
    free(job->tmp);
    free(job->data);
    free(job);
    napi_throw_error(env, NULL, "writeFileAtomic: cannot queue the job");
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value alignment;
  napi_create_uint32(env, ALIGNMENT, &alignment);
  napi_property_descriptor props[] = {
    {"sendfile", NULL, js_sendfile, NULL, NULL, NULL, napi_enumerable, NULL},
    {"alignedBuffer", NULL, js_aligned_buffer, NULL, NULL, NULL, napi_enumerable, NULL},
    {"readFile", NULL, js_read_file, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writeFileAtomic", NULL, js_write_file_atomic, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recv", NULL, js_recv, NULL, NULL, NULL, napi_enumerable, NULL},
    {"resident", NULL, js_resident, NULL, NULL, NULL, napi_enumerable, NULL},
    {"relay", NULL, js_relay, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ALIGNMENT", NULL, NULL, NULL, NULL, alignment, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

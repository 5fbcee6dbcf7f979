{
  # Native helpers: resumable blob-upload hashing (src/digest/resumable.ts), and sendfile(2)
  # and O_DIRECT buffers for blob transfers (src/native/io.c).
  # Built by `npm ci` / `npm install` through node-gyp. It links against nothing: the
  # OpenSSL SHA-2 symbols it calls are exported by the node executable itself, and the
  # OpenSSL headers come from Node's header tree.
  "targets": [
    {
      "target_name": "berth_sha",
      "sources": ["src/digest/native/sha_state.c"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_SUPPRESS_DEPRECATED"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=c11", "-O2"] }
    },
    {
      # Linux only; without it blobs go through read()/write() and the page cache.
      "target_name": "berth_io",
      "conditions": [["OS=='linux'", { "sources": ["src/native/io.c"] }]],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}

// Compatibility shims that let Debian 12's CivetWeb 1.15 use OpenSSL 3.
//
// That CivetWeb loads OpenSSL at run time, with dlopen("libcrypto.so") and
// dlopen("libssl.so") (the unversioned names only libssl-dev installs), and was
// built for the OpenSSL 1.1 API: it looks up SSL_get_peer_certificate, which
// OpenSSL 3 no longer exports (it is a macro for SSL_get1_peer_certificate), so
// every TLS start fails with "libssl.so: cannot find SSL_get_peer_certificate"
// (civetweb issue #1334).
//
// This file is built twice as a tiny shared library: with PORTPATH_SSL_COMPAT,
// as soname "libssl.so", defining the missing function and depending on the
// real libssl.so.3; without, as soname "libcrypto.so", empty, depending on the
// real libcrypto.so.3. Both are embedded in the exporter (http_tls_embed.cmake)
// and loaded before CivetWeb starts TLS (PrepareCivetWebTls): glibc's dlopen
// then finds an object of the requested soname already loaded and returns it,
// and dlsym through it reaches the real OpenSSL 3 behind it.
#include <openssl/ssl.h>

#ifdef PORTPATH_SSL_COMPAT
#undef SSL_get_peer_certificate
extern "C" __attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  // The 1.1 function returned a new reference, as SSL_get1_peer_certificate does.
  return SSL_get1_peer_certificate(ssl);
}
#endif

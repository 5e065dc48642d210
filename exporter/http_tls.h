#pragma once
/// TLS for the exporter's HTTP server: loads the web config's certificate and
/// key into an OpenSSL context. OpenSSL types stay out of this header (the
/// context is a void*), so its users need no OpenSSL headers.
///
/// Thread-safe: each call works on the context it is given.

#include <string>

#include "exporter/web_config.h"

namespace portpath::exporter {

/// Loads tls.cert_pem (a PEM certificate, optionally followed by its chain) and
/// tls.key_pem (an unencrypted PEM private key) into `ssl_ctx` (an SSL_CTX*),
/// checks that they belong together and sets the lowest accepted TLS version.
/// Returns an empty string on success, otherwise what went wrong, naming the
/// file they came from.
std::string LoadCertificate(void* ssl_ctx, const TlsServerConfig& tls);

/// LoadCertificate into a scratch context: the check made when the web config
/// is read, so a bad certificate stops the exporter before it listens.
std::string CheckCertificate(const TlsServerConfig& tls);

/// Makes CivetWeb's run-time loading of OpenSSL work with OpenSSL 3 (see
/// http_tls_compat.cc): loads the embedded shims, once per process, when the
/// OpenSSL in use lacks SSL_get_peer_certificate. Returns an empty string, or
/// why TLS cannot work. Call before starting a CivetWeb server with TLS.
std::string PrepareCivetWebTls();

}  // namespace portpath::exporter

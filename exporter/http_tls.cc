#include "exporter/http_tls.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/mman.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <system_error>

#include "probe/io/fd.h"

namespace portpath::exporter::tls_compat {
// http_tls_compat_blobs.cc, generated at build time (http_tls_embed.cmake).
extern const unsigned char k_ssl[];
extern const std::size_t k_ssl_size;
extern const unsigned char k_crypto[];
extern const std::size_t k_crypto_size;
}  // namespace portpath::exporter::tls_compat

namespace portpath::exporter {
namespace {

/// The reason of OpenSSL's latest error on this thread ("no start line",
/// "key values mismatch"), and clears the queue.
std::string OpenSslReason() {
  unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown OpenSSL error";
}

/// Loads a shared library from memory (a memfd, so nothing is written to disk).
/// `fd` stays open for the life of the process: glibc knows the library by the
/// path /proc/self/fd/N, and a reused N would make a later dlopen of another
/// memfd return this library.
std::string LoadFromMemory(const char* name, const unsigned char* bytes, std::size_t size,
                           io::Fd& fd) {
  fd = io::Fd(memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid()) return std::string("memfd_create: ") + std::generic_category().message(errno);
  for (std::size_t done = 0; done < size;) {
    ssize_t n = ::write(fd.get(), bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return std::string("writing ") + name + ": " + std::generic_category().message(errno);
    done += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
    const char* why = dlerror();
    return std::string("loading ") + name + ": " + (why ? why : "dlopen failed");
  }
  return {};
}

}  // namespace

std::string PrepareCivetWebTls() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    // OpenSSL 1.1 still exports the function: CivetWeb manages alone.
    if (dlsym(RTLD_DEFAULT, "SSL_get_peer_certificate") != nullptr) return;
    static io::Fd crypto_fd, ssl_fd;
    error = LoadFromMemory("libcrypto.so (portpath compat)", tls_compat::k_crypto,
                           tls_compat::k_crypto_size, crypto_fd);
    if (error.empty()) {
      error = LoadFromMemory("libssl.so (portpath compat)", tls_compat::k_ssl,
                             tls_compat::k_ssl_size, ssl_fd);
    }
    if (!error.empty()) error = "cannot prepare OpenSSL 3 for CivetWeb: " + error;
  });
  return error;
}

std::string LoadCertificate(void* ssl_ctx, const TlsServerConfig& tls) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
  // Never ask for a passphrase: OpenSSL's default would prompt on a terminal.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  ERR_clear_error();

  const std::string cert = "cert_file " + tls.cert_file;
  Bio certs(BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      PEM_read_bio_X509_AUX(certs.get(), nullptr, no_passphrase, nullptr), &X509_free);
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return cert + ": not a usable PEM certificate (" + OpenSslReason() + ")";
  }
  // What follows the server's certificate is its chain, as in a file for
  // SSL_CTX_use_certificate_chain_file.
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* ca = PEM_read_bio_X509(certs.get(), nullptr, no_passphrase, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
      X509_free(ca);
      return cert + ": cannot use a certificate of its chain (" + OpenSslReason() + ")";
    }
  }
  const unsigned long end = ERR_peek_last_error();
  if (ERR_GET_LIB(end) != ERR_LIB_PEM || ERR_GET_REASON(end) != PEM_R_NO_START_LINE) {
    return cert + ": a certificate of its chain is not usable (" + OpenSslReason() + ")";
  }
  ERR_clear_error();  // the end of the file

  const std::string key = "key_file " + tls.key_file;
  Bio keys(BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(keys.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
  if (!pkey) {
    return key + ": not a usable PEM private key without passphrase (" + OpenSslReason() + ")";
  }
  if (SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    std::string reason = OpenSslReason();
    return key + " is not the key of " + cert +
           (reason == "key values mismatch" ? "" : " (" + reason + ")");
  }
  if (SSL_CTX_set_min_proto_version(ctx, tls.min_version) != 1) {
    return "cannot set the minimum TLS version (" + OpenSslReason() + ")";
  }
  return {};
}

std::string CheckCertificate(const TlsServerConfig& tls) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return "cannot create a TLS context (" + OpenSslReason() + ")";
  return LoadCertificate(ctx.get(), tls);
}

}  // namespace portpath::exporter

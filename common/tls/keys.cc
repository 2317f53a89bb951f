#include "common/tls/keys.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace tarmac::tls {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

Error openssl_error(const std::string& step) { return Error(step + ": OpenSSL failed"); }

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? n : 0);
}

Result<KeyPair> encode(EVP_PKEY* key, X509* cert) {
  Bio kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
  if (!kb || !cb ||
      !PEM_write_bio_PrivateKey(kb.get(), key, nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cb.get(), cert))
    return openssl_error("encode PEM");
  return KeyPair{bio_string(kb.get()), bio_string(cb.get())};
}

Result<Cert> parse_cert(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert c(b ? PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!c) return Error("parse certificate: not a PEM X.509 certificate");
  return c;
}

Result<PKey> parse_key(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKey k(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!k) return Error("parse key: not a PEM private key");
  return k;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, valid from now for `days`, not yet signed.
Result<Cert> new_cert(EVP_PKEY* key, const std::string& cn, int days) {
  Cert cert(X509_new());
  if (!cert) return openssl_error("new certificate");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return openssl_error("serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  ASN1_INTEGER* s = bn ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
  BN_free(bn);
  bool ok = s && X509_set_serialNumber(cert.get(), s) == 1;
  ASN1_INTEGER_free(s);
  ok = ok && X509_set_version(cert.get(), 2) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) &&
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * days) &&
       X509_set_pubkey(cert.get(), key) == 1 &&
       X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                  0) == 1;
  if (!ok) return openssl_error("certificate fields");
  return cert;
}

Result<PKey> new_key() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("generate P-256 key");
  return key;
}

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<KeyPair> make_ca(const std::string& cn, int days) {
  auto key = new_key();
  if (!key) return std::move(key).error();
  auto cert = new_cert(key->get(), cn, days);
  if (!cert) return std::move(cert).error();
  X509* c = cert->get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
      !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(c, c, NID_subject_key_identifier, "hash") ||
      X509_sign(c, key->get(), EVP_sha256()) == 0)
    return openssl_error("make CA certificate");
  return encode(key->get(), c);
}

Result<KeyPair> make_leaf(const KeyPair& ca, const std::string& cn,
                          const std::vector<std::string>& hosts, int days) {
  auto ca_cert = parse_cert(ca.cert_pem);
  if (!ca_cert) return std::move(ca_cert).error().wrap("CA");
  auto ca_key = parse_key(ca.key_pem);
  if (!ca_key) return std::move(ca_key).error().wrap("CA");
  auto key = new_key();
  if (!key) return std::move(key).error();
  auto cert = new_cert(key->get(), cn, days);
  if (!cert) return std::move(cert).error();
  X509* c = cert->get();
  std::string san;
  for (const std::string& h : hosts) {
    if (h.empty()) continue;
    san += (san.empty() ? "" : ",") + std::string(is_ip(h) ? "IP:" : "DNS:") + h;
  }
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get())) != 1 ||
      !add_ext(c, ca_cert->get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(c, ca_cert->get(), NID_key_usage, "critical,digitalSignature") ||
      !add_ext(c, ca_cert->get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      (!san.empty() && !add_ext(c, ca_cert->get(), NID_subject_alt_name, san)) ||
      X509_sign(c, ca_key->get(), EVP_sha256()) == 0)
    return openssl_error("make certificate for " + cn);
  return encode(key->get(), c);
}

Result<std::string> public_key_fingerprint(const std::string& cert_pem) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return std::move(cert).error();
  unsigned char* der = nullptr;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert->get()), &der);
  if (n <= 0) return openssl_error("encode public key");
  unsigned char digest[32];
  unsigned int len = 0;
  bool ok = EVP_Digest(der, n, digest, &len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return openssl_error("hash public key");
  unsigned char b64[64];
  int m = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  std::string s(reinterpret_cast<char*>(b64), m);
  while (!s.empty() && s.back() == '=') s.pop_back();  // as ssh-keygen prints them
  return "SHA256:" + s;
}

Result<std::string> common_name(const std::string& cert_pem) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return std::move(cert).error();
  char buf[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName, buf,
                                sizeof buf) < 0)
    return Error("certificate has no common name");
  return std::string(buf);
}

}  // namespace tarmac::tls

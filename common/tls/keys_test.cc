// Keys and certificates of generate-key: a chain OpenSSL verifies, fingerprints, bad input.
#include "common/tls/keys.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

namespace tarmac::tls {
namespace {

bool verifies(const std::string& ca_pem, const std::string& leaf_pem) {
  BIO* cb = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  BIO* lb = BIO_new_mem_buf(leaf_pem.data(), static_cast<int>(leaf_pem.size()));
  X509* ca = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  X509* leaf = PEM_read_bio_X509(lb, nullptr, nullptr, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(leaf);
  BIO_free(cb);
  BIO_free(lb);
  return ok;
}

// A leaf signed by the CA verifies against it and not against another CA; its fingerprint is
// stable and its own.
TEST(KeysTest, ChainVerifiesAndFingerprintsDiffer) {
  auto ca = make_ca("tarmac CA", 365);
  ASSERT_TRUE(ca.ok()) << ca.error().what();
  auto other = make_ca("other CA", 365);
  ASSERT_TRUE(other.ok());
  auto w1 = make_leaf(*ca, "worker-1", {"localhost", "127.0.0.1", "::1"}, 365);
  ASSERT_TRUE(w1.ok()) << w1.error().what();
  auto w2 = make_leaf(*ca, "worker-2", {}, 365);
  ASSERT_TRUE(w2.ok());
  EXPECT_TRUE(verifies(ca->cert_pem, w1->cert_pem));
  EXPECT_FALSE(verifies(other->cert_pem, w1->cert_pem));
  auto f1 = public_key_fingerprint(w1->cert_pem);
  auto f2 = public_key_fingerprint(w2->cert_pem);
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_EQ(f1->rfind("SHA256:", 0), 0u);
  EXPECT_EQ(f1->size(), 7u + 43u);
  EXPECT_NE(*f1, *f2);
  EXPECT_EQ(*f1, *public_key_fingerprint(w1->cert_pem));
  EXPECT_EQ(*common_name(w1->cert_pem), "worker-1");
}

// Broken PEM is an error saying what was expected.
TEST(KeysTest, BrokenInputIsAnError) {
  EXPECT_FALSE(public_key_fingerprint("").ok());
  EXPECT_FALSE(public_key_fingerprint("-----BEGIN CERTIFICATE-----\nnope\n").ok());
  auto bad = make_leaf(KeyPair{"garbage", "garbage"}, "x", {}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what().find("CA"), std::string::npos) << bad.error().what();
}

}  // namespace
}  // namespace tarmac::tls

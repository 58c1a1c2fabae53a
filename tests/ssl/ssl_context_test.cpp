// ssl::SSLContext and the ssl exceptions: Python's defaults and checks (no connections here).
#include <nogil/ssl.hpp>

#include <gtest/gtest.h>

#include "ssl_testing.hpp"

namespace ssl = nogil::ssl;
using nogil_test::cert;

// test_ssl.py: ContextTests.test_create_default_context (SERVER_AUTH: a client context)
TEST(SslContext, DefaultContextVerifiesServersAndTheirNames) {
    ssl::SSLContext ctx = ssl::create_default_context();
    EXPECT_FALSE(ctx.server_side());
    EXPECT_TRUE(ctx.check_hostname());
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_REQUIRED);
    EXPECT_EQ(ctx.minimum_version(), ssl::TLSVersion::TLSv1_2);
}

// test_ssl.py: ContextTests.test_create_default_context (CLIENT_AUTH: a server context)
TEST(SslContext, ClientAuthPurposeMakesAServerContext) {
    ssl::SSLContext ctx = ssl::create_default_context(ssl::Purpose::CLIENT_AUTH);
    EXPECT_TRUE(ctx.server_side());
    EXPECT_FALSE(ctx.check_hostname());
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_NONE);
}

// test_ssl.py: ContextTests.test_check_hostname
TEST(SslContext, CheckHostnameAndVerifyModeGoTogether) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_NONE);
    ctx.check_hostname(true);
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_REQUIRED) << "check_hostname turns CERT_NONE into CERT_REQUIRED";
    EXPECT_THROW(ctx.verify_mode(ssl::CERT_NONE), std::invalid_argument);
    ctx.check_hostname(false);
    ctx.verify_mode(ssl::CERT_OPTIONAL);
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_OPTIONAL);
    ctx.verify_mode(ssl::CERT_NONE);
    EXPECT_EQ(ctx.verify_mode(), ssl::CERT_NONE);
}

// test_ssl.py: ContextTests.test_min_max_version
TEST(SslContext, MinimumAndMaximumVersion) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
    ctx.minimum_version(ssl::TLSVersion::TLSv1_3);
    EXPECT_EQ(ctx.minimum_version(), ssl::TLSVersion::TLSv1_3);
    ctx.maximum_version(ssl::TLSVersion::TLSv1_3);
    EXPECT_EQ(ctx.maximum_version(), ssl::TLSVersion::TLSv1_3);
    ctx.maximum_version(ssl::TLSVersion::MAXIMUM_SUPPORTED);
    EXPECT_EQ(ctx.maximum_version(), ssl::TLSVersion::MAXIMUM_SUPPORTED);
}

// test_ssl.py: ContextTests.test_load_cert_chain (missing file, key that does not match)
TEST(SslContext, LoadCertChainErrors) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
    EXPECT_THROW(ctx.load_cert_chain("/nonexistent/cert.pem"), nogil::FileNotFoundError);
    try {
        ctx.load_cert_chain(cert("server.pem"), cert("client.key"));
        ADD_FAILURE() << "a key that does not match its certificate was accepted";
    } catch (const ssl::SSLError& e) {
        EXPECT_EQ(e.reason, "KEY_VALUES_MISMATCH") << e.what();
        EXPECT_NE(std::string(e.what()).find("key values mismatch"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(ctx.load_cert_chain(cert("server.pem"), cert("server.key")));
}

// test_ssl.py: ContextTests.test_load_verify_locations / test_load_verify_cadata
TEST(SslContext, LoadVerifyLocations) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
    EXPECT_THROW(ctx.load_verify_locations(), std::invalid_argument);
    EXPECT_THROW(ctx.load_verify_locations("/nonexistent/ca.pem"), nogil::FileNotFoundError);
    EXPECT_NO_THROW(ctx.load_verify_locations(cert("ca.pem")));
    EXPECT_THROW(ctx.load_verify_locations(std::nullopt, std::nullopt, std::string("not a certificate")),
                 ssl::SSLError);
}

// test_ssl.py: ContextTests.test_set_alpn_protocols (names must be 1-255 bytes)
TEST(SslContext, AlpnNamesAreChecked) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
    EXPECT_NO_THROW(ctx.set_alpn_protocols({"h2", "http/1.1"}));
    EXPECT_THROW(ctx.set_alpn_protocols({""}), std::invalid_argument);
    EXPECT_THROW(ctx.set_alpn_protocols({std::string(256, 'x')}), std::invalid_argument);
}

TEST(SslContext, CiphersAreChecked) {
    ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
    EXPECT_NO_THROW(ctx.set_ciphers("ECDHE+AESGCM"));
    EXPECT_THROW(ctx.set_ciphers("no-such-cipher"), ssl::SSLError);
}

// test_ssl.py: BasicSocketTests.test_errors_sslwrap (the exception hierarchy)
TEST(SslContext, ExceptionsArePythonsHierarchy) {
    EXPECT_THROW(throw ssl::SSLCertVerificationError(1, "x", 10, "certificate has expired"), ssl::SSLError);
    EXPECT_THROW(throw ssl::SSLError(1, "x"), nogil::OSError);
    EXPECT_THROW(throw ssl::SSLZeroReturnError(), ssl::SSLError);
    EXPECT_THROW(throw ssl::CertificateError(1, "x", 10, "y"), ssl::SSLCertVerificationError);
    EXPECT_STREQ(ssl::SSLError(1, "[SSL: X] x").what(), "[SSL: X] x");
}

TEST(SslContext, OpensslVersionIsThree) { EXPECT_EQ(ssl::openssl_version().rfind("OpenSSL 3", 0), 0u); }

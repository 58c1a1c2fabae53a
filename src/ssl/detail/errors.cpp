// Python's ssl exceptions from OpenSSL's error queue (see errors.hpp).
#include "ssl/detail/errors.hpp"

#include <cctype>
#include <cstdio>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace nogil::ssl::detail {

namespace {

/// Python's short library names ("SSL", "X509", "PEM").
std::string library_name(unsigned long e) {
    switch (ERR_GET_LIB(e)) {
        case ERR_LIB_SSL:
            return "SSL";
        case ERR_LIB_X509:
            return "X509";
        case ERR_LIB_X509V3:
            return "X509V3";
        case ERR_LIB_PEM:
            return "PEM";
        case ERR_LIB_SYS:
            return "SYS";
        case ERR_LIB_EVP:
            return "EVP";
        case ERR_LIB_ASN1:
            return "ASN1";
        case ERR_LIB_BIO:
            return "BIO";
        default: {
            const char* lib = ERR_lib_error_string(e);
            return lib ? lib : "UNKNOWN";
        }
    }
}

/// Python's reason mnemonic ("WRONG_VERSION_NUMBER"): OpenSSL's reason text in capitals, spaces
/// as underscores (Python's table of names holds exactly that for OpenSSL 3's reasons).
std::string reason_mnemonic(const std::string& text) {
    std::string out;
    for (char c : text) out += c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string reason_text(unsigned long e) {
    const char* r = ERR_reason_error_string(e);
    if (r) return r;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

}  // namespace

std::exception_ptr make_ssl_error(int ssl_error, ssl_st* ssl, const std::string& hostname) {
    const unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl) {
        const long code = SSL_get_verify_result(ssl);
        std::string verify_message;
        if (code == X509_V_ERR_HOSTNAME_MISMATCH)
            verify_message = "Hostname mismatch, certificate is not valid for '" + hostname + "'.";
        else if (code == X509_V_ERR_IP_ADDRESS_MISMATCH)
            verify_message = "IP address mismatch, certificate is not valid for '" + hostname + "'.";
        else
            verify_message = X509_verify_cert_error_string(code);
        return std::make_exception_ptr(SSLCertVerificationError(
            ssl_error, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " + verify_message, code,
            verify_message));
    }
    if (e == 0) {
        if (ssl_error == SSL_ERROR_ZERO_RETURN) return std::make_exception_ptr(SSLZeroReturnError());
        // Python's SSLEOFError / SSLSyscallError texts.
        return std::make_exception_ptr(SSLError(ssl_error, "EOF occurred in violation of protocol", "SSL", "EOF"));
    }
    const std::string lib = library_name(e);
    const std::string text = reason_text(e);
    const std::string reason = reason_mnemonic(text);
    return std::make_exception_ptr(SSLError(ssl_error, "[" + lib + ": " + reason + "] " + text, lib, reason));
}

void raise_last_error(const std::string& what) {
    if (ERR_peek_last_error() == 0) throw SSLError(SSL_ERROR_SSL, what);
    std::rethrow_exception(make_ssl_error(SSL_ERROR_SSL, nullptr, {}));
}

std::exception_ptr make_handshake_eof_error() {
    return std::make_exception_ptr(ConnectionResetError(ECONNRESET, "Connection lost during the TLS handshake"));
}

std::exception_ptr make_handshake_timeout_error(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", seconds);
    return std::make_exception_ptr(ConnectionAbortedError(
        ECONNABORTED, std::string("SSL handshake is taking longer than ") + buf + " seconds: aborting the connection"));
}

}  // namespace nogil::ssl::detail

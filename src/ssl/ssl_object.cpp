// ssl::SSLObject (include/nogil/ssl/ssl_object.hpp).
#include <nogil/ssl/ssl_object.hpp>

#include <arpa/inet.h>

#include <any>
#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace nogil::ssl {

namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, n > 0 ? static_cast<std::size_t>(n) : 0);
    BIO_free(bio);
    return out;
}

std::string time_text(const ASN1_TIME* t) {
    BIO* bio = BIO_new(BIO_s_mem());
    ASN1_TIME_print(bio, t);
    return bio_text(bio);
}

/// Python's names: long attribute names ("commonName") with UTF-8 values.
std::vector<std::pair<std::string, std::string>> name_entries(const X509_NAME* name) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
        char key[128];
        OBJ_obj2txt(key, sizeof key, X509_NAME_ENTRY_get_object(e), 0);
        unsigned char* utf8 = nullptr;
        const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        out.emplace_back(key, n >= 0 ? std::string(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n)) : "");
        OPENSSL_free(utf8);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> alt_names(X509* cert) {
    std::vector<std::pair<std::string, std::string>> out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING* s = g->d.dNSName;
            out.emplace_back("DNS", std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                static_cast<std::size_t>(ASN1_STRING_length(s))));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* s = g->d.iPAddress;
            char text[INET6_ADDRSTRLEN] = "";
            const int len = ASN1_STRING_length(s);
            if (len == 4 || len == 16)
                ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof text);
            out.emplace_back("IP Address", text);
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

}  // namespace

std::optional<std::string> SSLObject::version() const {
    if (!SSL_is_init_finished(ssl_.get())) return std::nullopt;
    return std::string(SSL_get_version(ssl_.get()));
}

std::optional<Cipher> SSLObject::cipher() const {
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get());
    if (!c) return std::nullopt;
    return Cipher{SSL_CIPHER_get_name(c), SSL_CIPHER_get_version(c), SSL_CIPHER_get_bits(c, nullptr)};
}

std::optional<PeerCert> SSLObject::getpeercert() const {
    X509* cert = SSL_get0_peer_certificate(ssl_.get());
    if (!cert) return std::nullopt;
    PeerCert out;
    const int len = i2d_X509(cert, nullptr);
    if (len > 0) {
        out.der.resize(static_cast<std::size_t>(len));
        auto* p = reinterpret_cast<unsigned char*>(out.der.data());
        i2d_X509(cert, &p);
    }
    // Python: a certificate that was not verified gives an empty dict (the DER form still works).
    if (SSL_get_verify_mode(ssl_.get()) == SSL_VERIFY_NONE) return out;
    out.subject = name_entries(X509_get_subject_name(cert));
    out.issuer = name_entries(X509_get_issuer_name(cert));
    out.subjectAltName = alt_names(cert);
    out.notBefore = time_text(X509_get0_notBefore(cert));
    out.notAfter = time_text(X509_get0_notAfter(cert));
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        char* hex = BN_bn2hex(bn);
        out.serialNumber = hex;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    out.version = static_cast<int>(X509_get_version(cert)) + 1;
    return out;
}

std::optional<std::string> SSLObject::selected_alpn_protocol() const {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &data, &len);
    if (!data || len == 0) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(data), len);
}

std::optional<std::string> SSLObject::server_hostname() const {
    const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    if (!name) return std::nullopt;
    return std::string(name);
}

bool SSLObject::server_side() const { return SSL_is_server(ssl_.get()) == 1; }

std::optional<SSLObject> ssl_object(const asyncio::StreamWriter& writer) {
    asyncio::ExtraInfo info = writer.get_extra_info("ssl_object");
    if (const auto* any = std::get_if<std::any>(&info))
        if (const auto* object = std::any_cast<SSLObject>(any)) return *object;
    return std::nullopt;
}

}  // namespace nogil::ssl

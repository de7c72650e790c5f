/* tls.h — the control channel's TLS configuration, one for the server
 * (control) and the client: mutual TLS with certificates chaining to one CA,
 * TLS 1.2 at least, ECDHE with AEAD ciphers only.
 *
 * tls_conf_init loads the certificate, key and CA files and fills an
 * mbedtls_ssl_config ready for mbedtls_ssl_setup.  Contract: 0, or negative
 * errno with `err` filled ("cannot load LABEL PATH: why", ...); either way
 * the caller calls tls_conf_free (safe on a zeroed or half-made conf).
 */
#ifndef KEEL_TLS_H
#define KEEL_TLS_H

#include <stdbool.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "keel/err.h"

struct tls_conf {
    bool ready;                  /* the mbedTLS objects below are initialised */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert, ca;
    mbedtls_pk_context key;
};

/* The files and the names messages give them: the server says
 * "control_tls_cert" (the manifest's key), the client "the TLS certificate". */
struct tls_files {
    const char *cert, *key, *ca;
    const char *cert_label, *key_label, *ca_label;
};

/* server: also checks that the key belongs to the certificate. */
int tls_conf_init(struct tls_conf *t, bool server, const struct tls_files *f, struct kerr *err);
void tls_conf_free(struct tls_conf *t);

/* The ciphersuites (server and client): TLS 1.2 ECDHE with AEAD ciphers only
 * (AES-GCM, ChaCha20-Poly1305), 0-terminated. */
const int *tls_ciphersuites(void);

/* mbedtls_strerror into buf. */
void tls_strerror(int ret, char *buf, size_t n);

#endif

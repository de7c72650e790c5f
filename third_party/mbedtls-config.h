/* third_party/mbedtls-config.h — the mbedTLS 2.28 configuration keel is built
 * with (MBEDTLS_CONFIG_FILE): only what keel uses, in place of Debian's full
 * default configuration (about 550 KiB of the static binary; this one: see
 * docs/performance.md).  third_party/mbedtls builds Debian's source package of
 * the installed libmbedtls-dev with it, and every keel object (release, ASan,
 * unit, fuzz) is compiled against it: the contexts' layouts depend on it, so
 * keel's objects must never meet Debian's libmbedtls*.a or .so.
 *
 * What keel does with mbedTLS:
 *   - the control channel (src/tls.c, control.c, client.c): mutual TLS 1.2,
 *     ECDHE-ECDSA or ECDHE-RSA with AES-GCM or ChaCha20-Poly1305
 *     (tls_ciphersuites()), X.509 certificates and unencrypted PEM/DER keys
 *     (PKCS#8, SEC1, PKCS#1) loaded from files, a CTR-DRBG seeded from the
 *     kernel (getrandom);
 *   - SHA-256 of image blobs and bundle members (import.c, bundle.c);
 *   - mbedtls_strerror for messages.
 * TLS 1.3: 2.28's is experimental (MBEDTLS_SSL_PROTO_TLS1_3_EXPERIMENTAL, no
 * client certificates in the server, no resumption) and stays off, as in
 * Debian's build.  Off as well: renegotiation, session tickets and caches
 * (a control connection is one handshake), CBC and every non-AEAD cipher,
 * static RSA/DH/PSK key exchanges, MD5/SHA-1 (TLS 1.2 with these suites
 * needs neither; certificates signed with SHA-1 are refused by the default
 * X.509 profile anyway), encrypted key files (keel passes no password),
 * the self-tests, the test certificates (certs.c), debug, version, net. */
#ifndef KEEL_MBEDTLS_CONFIG_H
#define KEEL_MBEDTLS_CONFIG_H

/* System support */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity periods */
/* keel's mbedtls_platform_gmtime_r (src/tls.c) in place of glibc's gmtime_r:
 * that one links glibc's time zone code, sscanf and the float parsers
 * (~92 KiB of the static binary, docs/performance.md). */
#define MBEDTLS_PLATFORM_GMTIME_R_ALT
#define MBEDTLS_FS_IO                   /* x509_crt_parse_file, pk_parse_keyfile */

/* Ciphers and modes: AES-GCM and ChaCha20-Poly1305, nothing else */
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C

/* Hashes: SHA-256 and SHA-384 (the suites' PRFs, signatures, blobs) */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C

/* Public keys: ECDSA and ECDH on P-256, P-384, P-521 and X25519; RSA
 * (PKCS#1 v1.5) for RSA certificates and ECDHE-RSA */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_SECP521R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC     /* signatures do not depend on the RNG */
#define MBEDTLS_HMAC_DRBG_C             /* ... through HMAC-DRBG */
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C

/* Encodings */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C            /* ECDSA signatures */
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C

/* X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE

/* Randomness */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* TLS 1.2, server and client, the six ECDHE-AEAD suites of src/tls.c */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE   /* client.c reads the server's name */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_SSL_CIPHERSUITES \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256

/* Messages */
#define MBEDTLS_ERROR_C

#include "mbedtls/check_config.h"

#endif

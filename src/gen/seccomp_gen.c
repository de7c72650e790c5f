/* seccomp_gen.c — build tool, not part of keel: writes seccomp_prebuilt.h,
 * the default seccomp filter for the default capability set as libseccomp
 * compiles it (seccomp_compile_default), so that keel copies it instead of
 * compiling it before every first start (see src/seccomp.c, struct
 * seccomp_prebuilt).  Built and run by the Makefile on the machine that
 * builds keel, against the same libseccomp keel links; for a cross build
 * the table stays empty.  Includes seccomp.c for its key (prebuilt_key).
 *
 *   seccomp_gen > seccomp_prebuilt.h      exit status 1 on an error
 */
#define KEEL_SECCOMP_GEN 1
#include "../seccomp.c"

#include "keel/caps.h"

#include <stdio.h>

int main(void)
{
    /* The capability sets whose filter is prebuilt: keel's default (a
     * container without cap_add / cap_drop), without nested user namespaces. */
    static const unsigned opts_of[] = { 0 };
    uint64_t caps_of[] = { caps_default() };
    printf("/* seccomp_prebuilt.h — written by src/gen/seccomp_gen.c at build time: do not edit. */\n");
    for (size_t i = 0; i < ARRAY_SIZE(caps_of); i++) {
        struct seccomp_prog p;
        struct kerr err = { 0 };
        if (seccomp_compile_default(caps_of[i], opts_of[i], &p, &err) < 0) {
            fprintf(stderr, "seccomp_gen: error: %s\n", err.msg);
            return 1;
        }
        printf("static const struct sock_filter seccomp_prebuilt_%zu[%u] = {\n", i, p.len);
        for (unsigned short k = 0; k < p.len; k++)
            printf("    { 0x%04x, %u, %u, 0x%08x },\n", p.insns[k].code, p.insns[k].jt, p.insns[k].jf, p.insns[k].k);
        printf("};\n");
        seccomp_prog_free(&p);
    }
    printf("#define SECCOMP_PREBUILT_N %zu\n", ARRAY_SIZE(caps_of));
    printf("static const struct seccomp_prebuilt seccomp_prebuilt[SECCOMP_PREBUILT_N] = {\n");
    for (size_t i = 0; i < ARRAY_SIZE(caps_of); i++) {
        uint64_t kcaps;
        unsigned kopts;
        prebuilt_key(caps_of[i], opts_of[i], &kcaps, &kopts);
        printf("    { 0x%016llxull, %uu, ARRAY_SIZE(seccomp_prebuilt_%zu), seccomp_prebuilt_%zu },\n",
               (unsigned long long)kcaps, kopts, i, i);
    }
    printf("};\n");
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

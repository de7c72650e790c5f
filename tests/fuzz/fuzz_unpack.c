/* fuzz_unpack.c — the member names of an image layer (a tar from an image
 * anyone may have built: `keel import`, unpack.h): every member's path, and
 * a hard link's target, go through unpack_clean_path before keel resolves
 * anything beneath the layer.
 *
 * fuzz-requires: src/unpack.c
 *
 * Input: one name (a NUL ends it, as libarchive's names are C strings).
 *
 * Invariants beyond "no crash, no write past the name": an accepted name is
 * non-empty and relative, has no empty, "." or ".." component and no
 * trailing '/', is no longer than it was, is cleaned again into itself, and
 * keeps the input's components that are neither empty nor "." in their
 * order; a name is refused (-EINVAL) exactly when it is absolute, has a ".."
 * component or nothing else than "." and empty ones.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "keel/unpack.h"

/* The reference: the input's components, "." and empty ones dropped, joined
 * with '/'; false when the input must be refused. */
static bool reference(const char *in, char *out)
{
    if (in[0] == '/')
        return false;
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = *end ? end + 1 : end;
    }
    out[o] = '\0';
    return o > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = fuzz_str(data, size);
    size_t len = strlen(name);
    char *want = malloc(len + 1);
    FUZZ_ASSERT(want != NULL);
    bool ok = reference(name, want);
    int r = unpack_clean_path(name);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    FUZZ_ASSERT((r == 0) == ok);
    if (r == 0) {
        size_t n = strlen(name);
        FUZZ_ASSERT(n > 0 && n <= len && name[0] != '/' && name[n - 1] != '/');
        FUZZ_ASSERT(strcmp(name, want) == 0);
        FUZZ_ASSERT(!strstr(name, "//") && strcmp(name, ".") != 0 && strncmp(name, "./", 2) != 0 &&
                    !strstr(name, "/./") && !(n >= 2 && strcmp(name + n - 2, "/.") == 0));
        char *again = strdup(name);
        FUZZ_ASSERT(again != NULL);
        FUZZ_ASSERT(unpack_clean_path(again) == 0 && strcmp(again, name) == 0);
        free(again);
    }
    free(want);
    free(name);
    return 0;
}

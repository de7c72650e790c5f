/* fuzz_kmod.c — the modules.dep parser and the load planner (kmod.h).
 * modules.dep comes from the appliance image or the host's /lib/modules: a
 * corrupt or hostile one must give an error, never a crash or an endless walk.
 *
 * fuzz-requires: src/kmod.c
 *
 * Input: the text of modules.dep, then optionally a line "%%" and module
 * names to resolve, one a line (without them, the first modules of the file
 * are resolved).
 *
 * Invariants beyond "no crash, no leak, no hang": a resolved order has at
 * most `max` entries, each once, none NULL, and ends with the module asked
 * for; a plan lists each module once; the parallel groups (kmod_plan_bins)
 * are numbered below their count; errors are NUL-terminated messages.
 */
#include "fuzz.h"

#include <errno.h>

#include "keel/kmod.h"

#define MAX_ORDER 64
#define MAX_NAMES 16

static void check_unique(const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(v[i] != NULL);
        for (size_t j = 0; j < i; j++)
            FUZZ_ASSERT(v[i] != v[j] && strcmp(v[i], v[j]) != 0);
    }
}

static void resolve(const struct kmod_dep *d, const char *name)
{
    const char *order[MAX_ORDER + 1];
    size_t count = 0;
    struct kerr err = { 0 };
    order[MAX_ORDER] = "sentinel";
    int r = kmod_dep_resolve(d, name, order, MAX_ORDER, &count, &err);
    FUZZ_ASSERT(strcmp(order[MAX_ORDER], "sentinel") == 0);
    if (r < 0) {
        FUZZ_ASSERT(memchr(err.msg, '\0', sizeof err.msg) != NULL);
        return;
    }
    FUZZ_ASSERT(count >= 1 && count <= MAX_ORDER);
    check_unique(order, count);
    char want[KMOD_NAME_MAX], last[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, want, sizeof want) == 0 &&
        kmod_name_normalize(order[count - 1], last, sizeof last) == 0)
        FUZZ_ASSERT(strcmp(want, last) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *dep, *names_text;
    fuzz_cut(&data, &size, "\n%%\n", &dep);
    names_text = fuzz_str(data, size);

    struct kmod_dep *d = NULL;
    struct kerr err = { 0 };
    int r = kmod_dep_parse(dep, &d, &err);
    if (r < 0) {
        FUZZ_ASSERT(d == NULL);
        FUZZ_ASSERT(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg) != NULL);
        free(dep);
        free(names_text);
        return 0;
    }
    FUZZ_ASSERT(d != NULL);
    (void)kmod_dep_count(d);

    /* The names to resolve: given, or the paths before ':' of the first lines. */
    char *names[MAX_NAMES + 1] = { 0 };
    size_t n = 0;
    const char *src = names_text[0] ? names_text : dep;
    for (const char *p = src; *p && n < MAX_NAMES;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = src == dep ? memchr(p, ':', len) : NULL;
        if (src == dep && colon)
            len = (size_t)(colon - p);
        if (len)
            names[n++] = fuzz_str((const uint8_t *)p, len);
        p += len;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    for (size_t i = 0; i < n; i++) {
        char norm[KMOD_NAME_MAX];
        r = kmod_name_normalize(names[i], norm, sizeof norm);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
        if (r == 0)
            FUZZ_ASSERT(strchr(norm, '-') == NULL && norm[0] != '\0');
        resolve(d, names[i]);
    }

    const char **order = NULL;
    size_t count = 0;
    r = kmod_plan(d, names, names_text[0] ? dep : NULL, NULL, &order, &count, &err);
    if (r == 0)
        check_unique(order, count);
    free(order);

    /* The parallel groups: each name in a group below nbins, or -1. */
    int bin[MAX_NAMES];
    size_t nbins = size % 4 + 1;
    r = kmod_plan_bins(d, names, names_text[0] ? dep : NULL, NULL, nbins, bin, &err);
    if (r >= 0)
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(bin[i] >= -1 && bin[i] < (int)nbins);
    else
        FUZZ_ASSERT(memchr(err.msg, '\0', sizeof err.msg) != NULL);

    for (size_t i = 0; i < n; i++)
        free(names[i]);
    kmod_dep_free(d);
    free(dep);
    free(names_text);
    return 0;
}

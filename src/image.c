/* image.c — the .image file: reading and writing (see image.h).
 *
 * A strict line reader rather than inih: inih's line limit and behaviours are
 * process-wide settings that the manifest's reader owns, and this file has
 * one section and a handful of keys.
 */
#include "keel/image.h"
#include "keel/parse.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define IMAGE_LINE_MAX 65536

enum ikey { IK_NAME, IK_DIGEST, IK_WORKDIR, IK_USER, IK_STOP_SIGNAL, IK_LAYER, IK_ENV, IK_EXPOSE,
            IK_ENTRYPOINT, IK_CMD, IK_COUNT };

static const struct {
    const char *name;
    bool repeatable;
    bool list;      /* any number of words (entrypoint, cmd) */
} ikeys[IK_COUNT] = {
    [IK_NAME] = { "name", false, false },
    [IK_DIGEST] = { "digest", false, false },
    [IK_WORKDIR] = { "workdir", false, false },
    [IK_USER] = { "user", false, false },
    [IK_STOP_SIGNAL] = { "stop_signal", false, false },
    [IK_LAYER] = { "layer", true, false },
    [IK_ENV] = { "env", true, false },
    [IK_EXPOSE] = { "expose", true, false },
    [IK_ENTRYPOINT] = { "entrypoint", false, true },
    [IK_CMD] = { "cmd", false, true },
};

void image_free(struct image *img)
{
    if (!img)
        return;
    free(img->name);
    free(img->digest);
    strv_free(img->layers);
    strv_free(img->entrypoint);
    strv_free(img->cmd);
    strv_free(img->env);
    strv_free(img->expose);
    free(img->workdir);
    free(img->user);
    *img = (struct image){ 0 };
}

static bool has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return true;
    return false;
}

/* One value: checks it and stores it.  WHY gets the reason. */
static int store(struct image *img, enum ikey k, char **words, const char *dir, char *why)
{
    if (ikeys[k].list) {
        char ***field = k == IK_ENTRYPOINT ? &img->entrypoint : &img->cmd;
        *field = words;   /* taken; an empty list stays a list that was given */
        return 0;
    }
    if (!words[0] || words[1])
        return PARSE_FAIL(why, EINVAL, "takes exactly one word");
    const char *v = words[0];
    switch (k) {
    case IK_NAME:
        return (img->name = strdup(v)) ? 0 : -ENOMEM;
    case IK_DIGEST: {
        size_t n = strlen(v);
        if (n != 7 + 64 || strncmp(v, "sha256:", 7) != 0 || strspn(v + 7, "0123456789abcdef") != 64)
            return PARSE_FAIL(why, EINVAL, "'%s' is not sha256:HEX", v);
        return (img->digest = strdup(v)) ? 0 : -ENOMEM;
    }
    case IK_WORKDIR:
        if (v[0] != '/' || has_dotdot(v))
            return PARSE_FAIL(why, EINVAL, "'%s' is not an absolute path without '..'", v);
        return (img->workdir = strdup(v)) ? 0 : -ENOMEM;
    case IK_USER:
        if (!v[0])
            return PARSE_FAIL(why, EINVAL, "is empty");
        return (img->user = strdup(v)) ? 0 : -ENOMEM;
    case IK_STOP_SIGNAL: {
        int r = parse_signal_anycase(v, &img->stop_signal, why);
        /* 32 and 33 (glibc's own real-time signals) have no name to write back. */
        if (r == 0 && strcmp(signal_name(img->stop_signal), "SIG?") == 0)
            return PARSE_FAIL(why, EINVAL, "'%s' is a signal keel cannot name", v);
        return r;
    }
    case IK_LAYER: {
        if (!v[0] || has_dotdot(v) || strchr(v, ':') || strchr(v, ','))
            return PARSE_FAIL(why, EINVAL, "'%s' is not a layer path (no '..', ':' or ',')", v);
        if (strv_len(img->layers) >= IMAGE_LAYERS_MAX)
            return PARSE_FAIL(why, EINVAL, "more than %d layers", IMAGE_LAYERS_MAX);
        if (v[0] == '/')
            return strv_push(&img->layers, v);
        if (!dir)
            return PARSE_FAIL(why, EINVAL, "'%s' is relative and the file has no directory", v);
        char *abs = xasprintf("%s/%s", dir, v);
        return abs ? strv_push_take(&img->layers, abs) : -ENOMEM;
    }
    case IK_ENV: {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return PARSE_FAIL(why, EINVAL, "'%s' is not NAME=VALUE", v);
        return strv_push(&img->env, v);
    }
    case IK_EXPOSE:
        return strv_push(&img->expose, v);
    default:
        return PARSE_FAIL(why, EINVAL, "unknown key");
    }
}

int image_parse(const char *file, const char *dir, const char *buf, size_t len, struct image *img, struct kerr *err)
{
    *img = (struct image){ 0 };
    bool seen[IK_COUNT] = { false };
    bool header = false;
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n > IMAGE_LINE_MAX || memchr(s, '\0', n)) {
            image_free(img);
            return kerr_msg(err, EINVAL, "%s:%d: line is longer than %d bytes or holds a NUL byte", file, line,
                            IMAGE_LINE_MAX);
        }
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        if (n == 0 || *s == '#' || *s == ';')
            continue;
        if (!header) {
            if (n == 7 && memcmp(s, "[image]", 7) == 0) {
                header = true;
                continue;
            }
            image_free(img);
            return kerr_msg(err, EINVAL, "%s:%d: expected the [image] header", file, line);
        }
        const char *eq = memchr(s, '=', n);
        size_t kl = eq ? (size_t)(eq - s) : 0;
        while (kl && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
            kl--;
        enum ikey k = IK_COUNT;
        for (int i = 0; eq && i < IK_COUNT; i++)
            if (strlen(ikeys[i].name) == kl && memcmp(ikeys[i].name, s, kl) == 0)
                k = (enum ikey)i;
        if (k == IK_COUNT) {
            image_free(img);
            if (!eq)
                return kerr_msg(err, EINVAL, "%s:%d: expected KEY = VALUE", file, line);
            return kerr_msg(err, EINVAL, "%s:%d: unknown key '%.*s'", file, line, (int)(kl > 64 ? 64 : kl), s);
        }
        if (seen[k] && !ikeys[k].repeatable) {
            image_free(img);
            return kerr_msg(err, EINVAL, "%s:%d: %s is given twice", file, line, ikeys[k].name);
        }
        seen[k] = true;
        _cleanup_free_ char *value = strndup(eq + 1, n - (size_t)(eq + 1 - s));
        if (!value) {
            image_free(img);
            return kerr_set(err, ENOMEM, "cannot read %s", file);
        }
        char why[PARSE_WHY_MAX] = "is not valid";
        char **words = NULL;
        int r = split_words(value, &words, why);
        if (r == 0) {
            r = store(img, k, words, dir, why);
            if (!ikeys[k].list)
                strv_free(words);
        }
        if (r < 0) {
            image_free(img);
            if (r == -ENOMEM)
                return kerr_set(err, ENOMEM, "cannot read %s", file);
            return kerr_msg(err, EINVAL, "%s:%d: %s: %s", file, line, ikeys[k].name, why);
        }
    }
    if (!header) {
        image_free(img);
        return kerr_msg(err, EINVAL, "%s:%d: no [image] header", file, line);
    }
    if (!img->layers) {
        image_free(img);
        return kerr_msg(err, EINVAL, "%s: names no layer", file);
    }
    return 0;
}

int image_load(const char *path, struct image *img, struct kerr *err)
{
    *img = (struct image){ 0 };
    /* Non-blocking and a regular file only (read_regular_file): the manifest
     * is read by PID 1 at boot, and a FIFO named here must not hang it. */
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_regular_file(path, IMAGE_FILE_MAX, &buf, &len);
    if (r == -EINVAL)
        return kerr_msg(err, EINVAL, "cannot read %s: not a regular file", path);
    if (r < 0)
        return kerr_set(err, -r, "cannot read %s", path);
    _cleanup_free_ char *dir = strdup(path);
    if (!dir)
        return kerr_set(err, ENOMEM, "cannot read %s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (slash)
        dir[1] = '\0';
    else
        strcpy(dir, ".");
    return image_parse(path, dir, buf, len, img, err);
}

/* --- writing ------------------------------------------------------------------ */

struct sbuf {
    char *s;
    size_t len, cap;
    bool bad;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->bad = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* One shell word in single quotes; ' becomes '\'' (split_words reads it back). */
static void sb_word(struct sbuf *b, const char *w)
{
    if (strchr(w, '\n') || strchr(w, '\r')) {
        b->bad = true;
        errno = EINVAL;
        return;
    }
    sb_str(b, "'");
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            sb_str(b, "'\\''");
        else
            sb_add(b, p, 1);
    }
    sb_str(b, "'");
}

static void sb_key(struct sbuf *b, const char *key, const char *v)
{
    if (!v)
        return;
    sb_str(b, key);
    sb_str(b, " = ");
    sb_word(b, v);
    sb_str(b, "\n");
}

static void sb_list(struct sbuf *b, const char *key, char *const *v)
{
    if (!v)
        return;
    sb_str(b, key);
    sb_str(b, " =");
    for (size_t i = 0; v[i]; i++) {
        sb_str(b, " ");
        sb_word(b, v[i]);
    }
    sb_str(b, "\n");
}

char *image_format(const struct image *img)
{
    struct sbuf b = { 0 };
    errno = ENOMEM;
    sb_str(&b, "# written by keel import (docs/images.md); layers top first\n[image]\n");
    sb_key(&b, "name", img->name);
    sb_key(&b, "digest", img->digest);
    for (size_t i = 0; img->layers && img->layers[i]; i++)
        sb_key(&b, "layer", img->layers[i]);
    sb_list(&b, "entrypoint", img->entrypoint);
    sb_list(&b, "cmd", img->cmd);
    for (size_t i = 0; img->env && img->env[i]; i++)
        sb_key(&b, "env", img->env[i]);
    sb_key(&b, "workdir", img->workdir);
    sb_key(&b, "user", img->user);
    for (size_t i = 0; img->expose && img->expose[i]; i++)
        sb_key(&b, "expose", img->expose[i]);
    if (img->stop_signal)
        sb_key(&b, "stop_signal", signal_name(img->stop_signal));
    if (b.bad) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

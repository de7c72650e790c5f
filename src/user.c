/* user.c — user and group resolution from an image's files, see user.h. */
#include "keel/user.h"
#include "keel/parse.h"
#include "keel/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Splits one line into at most `max` ':'-separated fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
    }
    return n;
}

/* Calls fn for each line of text (copied, NUL-terminated); stops when fn returns non-zero. */
static int for_each_line(const char *text, int (*fn)(char *line, void *data), void *data)
{
    if (!text)
        return 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n < 1024) {
            char line[1024];
            memcpy(line, p, n);
            line[n] = '\0';
            int r = fn(line, data);
            if (r)
                return r;
        }
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

struct pw_query { const char *name; uid_t uid; bool by_uid; struct user_ids *out; };

static int passwd_line(char *line, void *data)
{
    struct pw_query *q = data;
    char *f[7];
    if (split_fields(line, f, 7) != 7)
        return 0;
    uint32_t uid, gid;
    if (parse_id(f[2], &uid, NULL) < 0 || parse_id(f[3], &gid, NULL) < 0)
        return 0;
    if (q->by_uid ? uid != q->uid : strcmp(f[0], q->name) != 0)
        return 0;
    q->out->uid = uid;
    q->out->gid = gid;
    snprintf(q->out->name, sizeof q->out->name, "%s", f[0]);
    snprintf(q->out->home, sizeof q->out->home, "%s", f[5][0] == '/' ? f[5] : "/");
    return 1;
}

struct gr_query { struct user_ids *out; const char *name; gid_t gid; bool found; };

static int group_member_line(char *line, void *data)
{
    struct gr_query *q = data;
    char *f[4];
    if (split_fields(line, f, 4) != 4)
        return 0;
    uint32_t gid;
    if (parse_id(f[2], &gid, NULL) < 0)
        return 0;
    char *save = NULL;
    for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (strcmp(m, q->out->name) != 0 || gid == q->out->gid)
            continue;
        bool dup = false;
        for (size_t i = 0; i < q->out->n_groups; i++)
            dup |= q->out->groups[i] == gid;
        if (!dup && q->out->n_groups < USER_MAX_GROUPS)
            q->out->groups[q->out->n_groups++] = gid;
    }
    return 0;
}

static int group_name_line(char *line, void *data)
{
    struct gr_query *q = data;
    char *f[4];
    if (split_fields(line, f, 4) < 3 || strcmp(f[0], q->name) != 0)
        return 0;
    uint32_t gid;
    if (parse_id(f[2], &gid, NULL) < 0)
        return 0;
    q->gid = gid;
    q->found = true;
    return 1;
}

int user_group_gid(const char *group, const char *name, gid_t *gid)
{
    struct gr_query q = { .name = name };
    for_each_line(group, group_name_line, &q);
    if (!q.found)
        return -ENOENT;
    *gid = q.gid;
    return 0;
}

int user_resolve(const char *spec, const char *passwd, const char *group, struct user_ids *out)
{
    memset(out, 0, sizeof *out);
    strcpy(out->home, "/");
    struct pw_query q = { .out = out };
    if (!spec) {
        q.by_uid = true;
        q.uid = 0;
        for_each_line(passwd, passwd_line, &q);
        out->uid = 0;
        out->gid = 0;
    } else if (strchr(spec, ':')) {
        char uid_s[16];
        const char *colon = strchr(spec, ':');
        uint32_t uid, gid;
        if ((size_t)(colon - spec) >= sizeof uid_s)
            return -EINVAL;
        memcpy(uid_s, spec, (size_t)(colon - spec));
        uid_s[colon - spec] = '\0';
        if (parse_id(uid_s, &uid, NULL) < 0 || parse_id(colon + 1, &gid, NULL) < 0)
            return -EINVAL;
        q.by_uid = true;
        q.uid = uid;
        for_each_line(passwd, passwd_line, &q);
        out->uid = uid;
        out->gid = gid;   /* the explicit gid wins over the passwd entry's */
    } else if (spec[0] >= '0' && spec[0] <= '9') {
        uint32_t uid;
        if (parse_id(spec, &uid, NULL) < 0)
            return -EINVAL;
        q.by_uid = true;
        q.uid = uid;
        /* A uid without a passwd entry runs with gid = uid, as Docker does not:
         * Docker uses gid 0 — which hands the group root's files to any uid.
         * keel takes the passwd entry's gid or, failing that, gid = uid. */
        if (!for_each_line(passwd, passwd_line, &q)) {
            out->uid = uid;
            out->gid = uid;
        }
    } else {
        q.name = spec;
        if (!for_each_line(passwd, passwd_line, &q))
            return -ENOENT;
    }
    if (out->name[0]) {
        struct gr_query g = { .out = out };
        for_each_line(group, group_member_line, &g);
    }
    return 0;
}

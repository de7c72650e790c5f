/* Unit tests of image.c (the .image format), unpack_clean_path (member
 * names) and the manifest's `image =` (Docker's override rules). */
#include "keel/image.h"
#include "keel/import.h"
#include "keel/json.h"
#include "keel/manifest.h"
#include "keel/plan.h"
#include "keel/unpack.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

static bool strv_eq(char *const *a, const char *const *b)
{
    size_t i = 0;
    for (; a && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return (!a || !a[i]) && !b[i];
}

TEST(round_trip)
{
    char *ep[] = { (char *)"/bin/sh", (char *)"-c", (char *)"echo 'it''s' \"$HOME\" \\ done", NULL };
    char *cmd[] = { (char *)"", (char *)"two words", NULL };
    char *env[] = { (char *)"A=1", (char *)"B= spaced =", NULL };
    char *layers[] = { (char *)"layers/sha256-top", (char *)"/abs/bottom", NULL };
    char *expose[] = { (char *)"80/tcp", NULL };
    struct image in = { .name = (char *)"app", .layers = layers, .entrypoint = ep, .cmd = cmd, .env = env,
                        .expose = expose, .workdir = (char *)"/srv/my app", .user = (char *)"1000:1000",
                        .stop_signal = SIGQUIT,
                        .digest = (char *)"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
    char *text = image_format(&in);
    CHECK(text != NULL);
    struct image out;
    struct kerr err = { 0 };
    CHECK_INT(image_parse("t.image", "/dest", text, strlen(text), &out, &err), 0);
    CHECK_STR(out.name, "app");
    CHECK_STR(out.digest, in.digest);
    const char *want_layers[] = { "/dest/layers/sha256-top", "/abs/bottom", NULL };
    CHECK(strv_eq(out.layers, want_layers));
    CHECK(strv_eq(out.entrypoint, (const char *const *)ep));
    CHECK(strv_eq(out.cmd, (const char *const *)cmd));
    CHECK(strv_eq(out.env, (const char *const *)env));
    CHECK(strv_eq(out.expose, (const char *const *)expose));
    CHECK_STR(out.workdir, "/srv/my app");
    CHECK_STR(out.user, "1000:1000");
    CHECK_INT(out.stop_signal, SIGQUIT);
    image_free(&out);
    free(text);
    /* A newline cannot be carried by a line format: refused, not cut. */
    char *bad[] = { (char *)"a\nb", NULL };
    in.cmd = bad;
    errno = 0;
    CHECK(image_format(&in) == NULL);
    CHECK_INT(errno, EINVAL);
}

static void parse_fails(const char *text, const char *want)
{
    struct image img;
    struct kerr err = { 0 };
    int r = image_parse("x.image", "/d", text, strlen(text), &img, &err);
    CHECK_INT(r, -EINVAL);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "  got '%s', expected '%s'\n", err.msg, want);
        CHECK(false);
    }
}

TEST(parse_errors)
{
    parse_fails("layer = a\n", "x.image:1: expected the [image] header");
    parse_fails("[image]\nlayer = a\nbogus = 1\n", "x.image:3: unknown key 'bogus'");
    parse_fails("[image]\nlayer = a\nname = a\nname = b\n", "x.image:4: name is given twice");
    parse_fails("[image]\nname = a\n", "names no layer");
    parse_fails("[image]\nlayer = ../escape\n", "x.image:2: layer:");
    parse_fails("[image]\nlayer = a:b\n", "x.image:2: layer:");
    parse_fails("[image]\nlayer = a\nworkdir = relative\n", "x.image:3: workdir:");
    parse_fails("[image]\nlayer = a\ndigest = md5:00\n", "x.image:3: digest:");
    parse_fails("[image]\nlayer = a\nuser = a b\n", "x.image:3: user: takes exactly one word");
    parse_fails("[image]\nlayer = a\nstop_signal = SIGNOPE\n", "x.image:3: stop_signal:");
    /* Found by fuzz_image: a number with no name would not read back. */
    parse_fails("[image]\nlayer = a\nstop_signal = 32\n", "x.image:3: stop_signal: '32' is a signal keel cannot name");
    parse_fails("[image]\nlayer = 'open\n", "x.image:2: layer: unterminated");
    parse_fails("[image]\nlayer = a\nenv = NOEQUALS\n", "x.image:3: env:");
    parse_fails("[image]\nlayer = a\nnot a key line\n", "x.image:3: expected KEY = VALUE");
    struct image img;
    struct kerr err = { 0 };
    CHECK_INT(image_parse("x.image", NULL, "[image]\nlayer = rel\n", 20, &img, &err), -EINVAL);
    /* Comments, blank lines, CRLF and an empty entrypoint (given, no words). */
    const char *ok = "# c\r\n\r\n[image]\r\n; c\nlayer = /l\r\nentrypoint =\r\n";
    CHECK_INT(image_parse("x.image", NULL, ok, strlen(ok), &img, &err), 0);
    CHECK(img.entrypoint != NULL && img.entrypoint[0] == NULL);
    CHECK(img.cmd == NULL);
    image_free(&img);
}

TEST(clean_path)
{
    static const struct { const char *in, *out; } ok[] = {
        { "a", "a" }, { "./a/b/", "a/b" }, { "a//b/./c", "a/b/c" }, { "./etc/.wh.x", "etc/.wh.x" },
        { "a/..b/c..", "a/..b/c.." },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", ok[i].in);
        CHECK_INT(unpack_clean_path(buf), 0);
        CHECK_STR(buf, ok[i].out);
    }
    static const char *const bad[] = { "/etc/passwd", "..", "a/../../b", "a/..", "./", ".", "", "//x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", bad[i]);
        if (unpack_clean_path(buf) != -EINVAL) {
            fprintf(stderr, "  '%s' was accepted\n", bad[i]);
            CHECK(false);
        }
    }
}

/* --- the manifest's image = ------------------------------------------------------ */

static char dir[] = "/tmp/keel-unit-image.XXXXXX";

static void write_image(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s.image", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(path);
}

static struct manifest *load(const char *body, struct diag *d)
{
    /* "@" in BODY stands for the temporary directory. */
    char *text = calloc(1, strlen(body) * (sizeof dir) + 1);
    for (const char *p = body; text && *p; p++) {
        if (*p == '@')
            strcat(text, dir);
        else
            strncat(text, p, 1);
    }
    if (!text)
        return NULL;
    struct manifest *m = NULL;
    *d = (struct diag){ 0 };
    (void)manifest_load_buffer("m.ini", text, strlen(text), 0, &m, d);
    free(text);
    return m;
}

TEST(manifest_image)
{
    if (!mkdtemp(dir))
        SKIP("cannot make a temporary directory");
    write_image("app", "[image]\nlayer = layers/top\nlayer = layers/bottom\n"
                       "entrypoint = /bin/tini --\ncmd = /app/run --port 80\n"
                       "env = PATH=/usr/bin\nenv = MODE=image\nworkdir = /srv\nuser = 1000:1000\n"
                       "stop_signal = SIGQUIT\n");
    write_image("bare", "[image]\nlayer = l\ncmd = nginx -g 'daemon off;'\n");
    write_image("user", "[image]\nlayer = l\ncmd = /x\nuser = www-data:www-data\n");
    /* The layers are checked (the images are read only with the file checks). */
    static const char *const layer_dirs[] = { "layers", "layers/top", "layers/bottom", "l", "extra" };
    for (size_t i = 0; i < sizeof layer_dirs / sizeof layer_dirs[0]; i++) {
        char *p = xasprintf("%s/%s", dir, layer_dirs[i]);
        CHECK_INT(mkdir(p, 0755), 0);
        free(p);
    }
    struct diag d;
    /* Only the image: Entrypoint + Cmd and the rest. */
    struct manifest *m = load("[container a]\nimage = @/app\n", &d);
    CHECK(m != NULL);
    if (m) {
        struct container_spec *c = &m->containers[0];
        char *l0 = xasprintf("%s/layers/top", dir), *l1 = xasprintf("%s/layers/bottom", dir);
        const char *layers[] = { l0, l1, NULL };
        CHECK(strv_eq(c->layers, layers));
        free(l0);
        free(l1);
        const char *argv[] = { "/bin/tini", "--", "/app/run", "--port", "80", NULL };
        CHECK(strv_eq(c->argv, argv));
        const char *env[] = { "PATH=/usr/bin", "MODE=image", NULL };
        CHECK(strv_eq(c->env, env));
        CHECK_STR(c->workdir, "/srv");
        CHECK_STR(c->user, "1000:1000");
        CHECK_INT(c->stop_signal, SIGQUIT);
        CHECK_INT(c->from_image, CON_FROM_IMAGE_LAYERS | CON_FROM_IMAGE_COMMAND | CON_FROM_IMAGE_ENV |
                                 CON_FROM_IMAGE_WORKDIR | CON_FROM_IMAGE_USER | CON_FROM_IMAGE_STOP_SIGNAL);
        manifest_free(m);
    }
    diag_free(&d);
    /* The section's keys win: command replaces Cmd after the Entrypoint (its
     * first word need not be a path then), layers go on top, env by name. */
    m = load("[container a]\ncommand = --verbose\nlayers = @/extra\nenv = MODE=mine\nenv = NEW=1\n"
             "workdir = /\nuser = 0:0\nstop_signal = SIGTERM\nimage = @/app.image\n", &d);
    CHECK(m != NULL);
    if (m) {
        struct container_spec *c = &m->containers[0];
        const char *argv[] = { "/bin/tini", "--", "--verbose", NULL };
        CHECK(strv_eq(c->argv, argv));
        CHECK(strstr(c->layers[0], "/extra") && strncmp(c->layers[0], dir, strlen(dir)) == 0);
        CHECK_INT(strv_len(c->layers), 3);
        const char *env[] = { "PATH=/usr/bin", "MODE=mine", "NEW=1", NULL };
        CHECK(strv_eq(c->env, env));
        CHECK_STR(c->workdir, "/");
        CHECK_STR(c->user, "0:0");
        CHECK_INT(c->stop_signal, SIGTERM);
        CHECK_INT(c->from_image, CON_FROM_IMAGE_LAYERS | CON_FROM_IMAGE_COMMAND | CON_FROM_IMAGE_ENV);
        manifest_free(m);
    }
    diag_free(&d);
    /* No Entrypoint: command replaces Cmd and must name the program. */
    m = load("[container a]\nimage = @/bare\ncommand = /usr/sbin/nginx\n", &d);
    CHECK(m != NULL && strcmp(m->containers[0].argv[0], "/usr/sbin/nginx") == 0 &&
          !m->containers[0].argv[1] && !(m->containers[0].from_image & CON_FROM_IMAGE_COMMAND));
    manifest_free(m);
    diag_free(&d);
    m = load("[container a]\nimage = @/bare\n\n", &d);
    CHECK(m == NULL && d.count == 1 && strstr(d.msgs[0], "m.ini:2: container 'a': the image's program 'nginx'"));
    manifest_free(m);
    diag_free(&d);
    m = load("[container a]\nimage = @/bare\ncommand = relative\n", &d);
    CHECK(m == NULL && d.count == 1 && strstr(d.msgs[0], "m.ini:3: command: 'relative' is not an absolute path"));
    manifest_free(m);
    diag_free(&d);
    /* A User keel cannot take (name:group) points at the image line. */
    m = load("[container a]\n\nimage = @/user\n", &d);
    CHECK(m == NULL && d.count == 1 && strstr(d.msgs[0], "m.ini:3: container 'a': image: User 'www-data:www-data'"));
    manifest_free(m);
    diag_free(&d);
    m = load("[container a]\nimage = @/user\nuser = 33:33\n", &d);
    CHECK(m != NULL);
    manifest_free(m);
    diag_free(&d);
    /* A missing image: one error at FILE:LINE when the files are looked at
     * (the control: the path is read then).  MANIFEST_NO_FS_CHECKS (an
     * update's payload checked in PID 1, keel check --no-fs) reads no image:
     * the load passes, without what the image would give, and keel check
     * --no-fs --plan prints such a container (it once crashed on one). */
    char *text = xasprintf("[container a]\nimage = %s/missing\n", dir);
    d = (struct diag){ 0 };
    CHECK_INT(manifest_load_buffer("m.ini", text, strlen(text), 0, &m, &d), -EINVAL);
    CHECK(d.count == 1 && strstr(d.msgs[0], "m.ini:2: container 'a': image: cannot read"));
    diag_free(&d);
    CHECK_INT(manifest_load_buffer("m.ini", text, strlen(text), MANIFEST_NO_FS_CHECKS, &m, &d), 0);
    CHECK_INT(d.count, 0);
    if (m) {
        const struct container_spec *c = &m->containers[0];
        CHECK(!c->layers && !c->argv && c->from_image == 0);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            plan_print(m, f);
            plan_print_summary(m, f);
            fclose(f);
        }
        CHECK(buf && strstr(buf, "/missing.image (not read: keel check --no-fs)"));
        free(buf);
        manifest_free(m);
        m = NULL;
    }
    diag_free(&d);
    free(text);
    /* A FIFO named as the image: refused at once (PID 1 reads the manifest;
     * a blocking open would hang the boot). */
    char *fifo = xasprintf("%s/fifo.image", dir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    text = xasprintf("[container a]\nimage = %s/fifo\n", dir);
    CHECK_INT(manifest_load_buffer("m.ini", text, strlen(text), 0, &m, &d), -EINVAL);
    CHECK(d.count >= 1 && strstr(d.msgs[0], "fifo.image: not a regular file"));
    diag_free(&d);
    free(text);
    CHECK_INT(unlink(fifo), 0);
    free(fifo);
    for (size_t i = sizeof layer_dirs / sizeof layer_dirs[0]; i-- > 0;) {
        char *p = xasprintf("%s/%s", dir, layer_dirs[i]);
        CHECK_INT(rmdir(p), 0);
        free(p);
    }
    const char *names[] = { "app", "bare", "user" };
    for (size_t i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s.image", dir, names[i]);
        CHECK_INT(unlink(p), 0);
        free(p);
    }
    CHECK_INT(rmdir(dir), 0);
}

/* An image config (keel import) into the .image fields: what it accepts,
 * the .image file can carry; what it cannot is refused while reading. */
static int read_config(const char *json, struct image *img, struct kerr *err)
{
    struct json_value *root = NULL;
    memset(img, 0, sizeof *img);
    if (json_parse_ex(json, strlen(json), 1 << 20, 1000, JSON_PARSE_FLOAT, &root, err) < 0)
        return -1000;
    int r = import_read_config(root, img, err);
    json_free(root);
    return r;
}

TEST(import_config)
{
    struct image img;
    struct kerr err = { 0 };
    CHECK_INT(read_config("{\"config\":{\"Entrypoint\":[\"/init\"],\"Cmd\":[\"-v\"],\"Env\":[\"A=1\"],"
                          "\"WorkingDir\":\"/srv\",\"User\":\"app\",\"ExposedPorts\":{\"80/tcp\":{}},"
                          "\"StopSignal\":\"SIGQUIT\"}}", &img, &err), 0);
    static const char *const ep[] = { "/init", NULL }, *const cmd[] = { "-v", NULL }, *const env[] = { "A=1", NULL },
                             *const ports[] = { "80/tcp", NULL };
    CHECK(strv_eq(img.entrypoint, ep) && strv_eq(img.cmd, cmd) && strv_eq(img.env, env) && strv_eq(img.expose, ports));
    CHECK(img.workdir && strcmp(img.workdir, "/srv") == 0 && img.user && strcmp(img.user, "app") == 0);
    CHECK_INT(img.stop_signal, SIGQUIT);
    image_free(&img);
    /* Each of these was refused only when the .image was written, after
     * every layer was extracted ("cannot write NAME.image"): now at once. */
    static const char *const bad[] = {
        "{\"config\":{\"ExposedPorts\":{\"80/tcp\\n\":{}}}}",
        "{\"config\":{\"ExposedPorts\":{\"80/tcp\\r\":{}}}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_INT(read_config(bad[i], &img, &err), -EINVAL);
        CHECK(strstr(err.msg, "ExposedPorts") != NULL);
        image_free(&img);
    }
}

int main(void)
{
    RUN(round_trip);
    RUN(import_config);
    RUN(parse_errors);
    RUN(clean_path);
    RUN(manifest_image);
    return unit_done();
}

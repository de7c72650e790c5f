/* driver.c — runs a fuzz target over files, without libFuzzer.
 *
 *     driver [-t SECONDS] FILE|DIR...
 *
 * Each file (each regular file of a directory, in name order) is read whole
 * into a buffer of exactly its size and given to LLVMFuzzerTestOneInput
 * once.  Built with gcc and -fsanitize=address,undefined, this is how
 * `make check` replays the corpus and the crashes found by `make fuzz`
 * without clang.  Before each input the driver prints "# FILE" to stderr, so
 * the last such line names the input that crashed; an input that runs longer
 * than SECONDS (default 10) is a hang: the driver says so and exits 3.
 * Under ASan, a leak check follows each input, so a leak is blamed on the
 * input that caused it (exit 4) rather than reported once at exit.
 * On success it prints "N inputs" to stdout and exits 0; an unreadable file
 * or an empty argument list exits 2.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *current;
static unsigned timeout_s = 10;
static size_t inputs;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "driver: hang: input ran too long: ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
        _exit(3);
    _exit(3);
}

static int run_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "driver: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        fprintf(stderr, "driver: cannot stat %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    /* Exactly `size` bytes (malloc(0) may be NULL: use 1 then, never read). */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fprintf(stderr, "driver: out of memory for %s\n", path);
        close(fd);
        return -1;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "driver: cannot read %s: %s\n", path, n < 0 ? strerror(errno) : "short read");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    current = path;
    fprintf(stderr, "# %s\n", path);
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(buf, size);
    alarm(0);
    free(buf);
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check()) {
        fprintf(stderr, "driver: memory leak on %s\n", path);
        _exit(4);   /* not exit(): its own leak check would report again, as status 1 */
    }
#endif
    inputs++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        fprintf(stderr, "driver: cannot stat %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode))
        return run_file(path);
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "driver: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    int r = 0;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (r == 0 && name[0] != '.') {
            char *p;
            if (asprintf(&p, "%s/%s", path, name) < 0) {
                r = -1;
            } else {
                struct stat st;
                if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
                    r = run_file(p);
                free(p);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return r;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
        timeout_s = (unsigned)atoi(argv[i + 1]);
        if (timeout_s == 0)
            timeout_s = 10;
        i += 2;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [-t SECONDS] FILE|DIR...\n", argv[0]);
        return 2;
    }
    signal(SIGALRM, on_alarm);
    for (; i < argc; i++)
        if (run_path(argv[i]) < 0)
            return 2;
    printf("%zu inputs\n", inputs);
    return 0;
}

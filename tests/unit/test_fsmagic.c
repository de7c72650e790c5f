/* test_fsmagic.c — identifying layer images by their superblock. */
#include "keel/fsmagic.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char buf[FSMAGIC_PROBE_SIZE];

static void put32(size_t off, unsigned v)
{
    buf[off] = v & 0xff;
    buf[off + 1] = (v >> 8) & 0xff;
    buf[off + 2] = (v >> 16) & 0xff;
    buf[off + 3] = (v >> 24) & 0xff;
}

/* An erofs superblock head as mkfs.erofs 1.5 writes it (4 KiB blocks). */
static void erofs_head(void)
{
    memset(buf, 0, sizeof buf);
    put32(1024, 0xE0F5E1E2u);
    buf[1024 + 12] = 12;
}

static void squashfs_head(unsigned major)
{
    memset(buf, 0, sizeof buf);
    memcpy(buf, "hsqs", 4);
    buf[28] = (unsigned char)major;
}

TEST(erofs)
{
    erofs_head();
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_EROFS);
    CHECK_STR(fsmagic_name(FSMAGIC_EROFS), "erofs");
    CHECK(fsmagic_is_layer(FSMAGIC_EROFS));
    /* Cut before the end of the fields read: not an image, and no read past LEN. */
    CHECK_INT(fsmagic_identify(buf, 1024 + 15), FSMAGIC_UNKNOWN);
    CHECK_INT(fsmagic_identify(buf, 1024 + 16), FSMAGIC_EROFS);
    /* A block size the format cannot have: the magic alone is not enough. */
    buf[1024 + 12] = 8;
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_UNKNOWN);
    buf[1024 + 12] = 17;
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_UNKNOWN);
}

TEST(squashfs)
{
    squashfs_head(4);
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_SQUASHFS);
    CHECK_STR(fsmagic_name(FSMAGIC_SQUASHFS), "squashfs");
    CHECK(fsmagic_is_layer(FSMAGIC_SQUASHFS));
    CHECK_INT(fsmagic_identify(buf, 31), FSMAGIC_UNKNOWN);
    /* Version 3 (big or little endian): Linux mounts only version 4. */
    squashfs_head(3);
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_SQUASHFS_OLD);
    CHECK(!fsmagic_is_layer(FSMAGIC_SQUASHFS_OLD));
}

TEST(not_layers)
{
    memset(buf, 0, sizeof buf);
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_UNKNOWN);
    CHECK_INT(fsmagic_identify(buf, 0), FSMAGIC_UNKNOWN);
    CHECK(!fsmagic_is_layer(FSMAGIC_UNKNOWN));
    /* ext4: named in the refusal, never a layer. */
    buf[1080] = 0x53;
    buf[1081] = 0xEF;
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_EXT);
    CHECK(!fsmagic_is_layer(FSMAGIC_EXT));
    /* A tar archive or a gzip stream is not an image. */
    memset(buf, 0, sizeof buf);
    buf[0] = 0x1f;
    buf[1] = 0x8b;
    memcpy(buf + 257, "ustar", 5);
    CHECK_INT(fsmagic_identify(buf, sizeof buf), FSMAGIC_UNKNOWN);
}

/* fsmagic_probe_fd reads from offset 0 whatever the fd's position, and a
 * short file is simply unknown. */
TEST(probe_fd)
{
    char path[] = "/tmp/keel-fsmagic.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unlink(path);
    erofs_head();
    CHECK_INT(write(fd, buf, sizeof buf), (long long)sizeof buf);
    enum fsmagic_kind k = FSMAGIC_UNKNOWN;
    struct kerr err = { 0 };
    CHECK_INT(fsmagic_probe_fd(fd, path, &k, &err), 0);
    CHECK_INT(k, FSMAGIC_EROFS);
    CHECK_INT(lseek(fd, 0, SEEK_CUR), (long long)sizeof buf);   /* position untouched */
    CHECK_INT(ftruncate(fd, 1000), 0);
    CHECK_INT(fsmagic_probe_fd(fd, path, &k, &err), 0);
    CHECK_INT(k, FSMAGIC_UNKNOWN);
    close(fd);
    CHECK_INT(fsmagic_probe_fd(fd, "closed", &k, &err), -EBADF);
    CHECK(strstr(err.msg, "cannot read closed") != NULL);
}

/* fsmagic_open: a regular file gives a read-only fd of that inode; a
 * directory or a FIFO only its stat (the FIFO is never opened for reading,
 * which would block here with no writer); a missing path its errno. */
TEST(open_kinds)
{
    char dir[] = "/tmp/keel-fsmagic-dir.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[PATH_MAX], fifo[PATH_MAX], missing[PATH_MAX];
    snprintf(file, sizeof file, "%s/image", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    struct stat st, want;
    struct kerr err = { 0 };
    int fd = -2;
    CHECK_INT(fsmagic_open(file, &st, &fd, &err), 0);
    CHECK(fd >= 0 && S_ISREG(st.st_mode));
    CHECK(stat(file, &want) == 0 && want.st_ino == st.st_ino);
    if (fd >= 0) {
        CHECK((fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_RDONLY);
        CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        close(fd);
    }
    CHECK_INT(fsmagic_open(dir, &st, &fd, &err), 0);
    CHECK(fd == -1 && S_ISDIR(st.st_mode));
    CHECK_INT(fsmagic_open(fifo, &st, &fd, &err), 0);
    CHECK(fd == -1 && S_ISFIFO(st.st_mode));
    CHECK_INT(fsmagic_open(missing, &st, &fd, &err), -ENOENT);
    CHECK(fd == -1 && strstr(err.msg, "cannot open ") != NULL);
    unlink(file);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    RUN(erofs);
    RUN(squashfs);
    RUN(not_layers);
    RUN(probe_fd);
    RUN(open_kinds);
    return unit_done();
}

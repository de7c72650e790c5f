/* test_superblock.c — the superblock parser against images made by the real
 * mkfs tools (e2fsprogs, dosfstools, xfsprogs: DEPS_TEST) and byte fixtures. */
#include "keel/superblock.h"
#include "unit.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char dir[] = "/tmp/keel-sb.XXXXXX";

/* Runs ARGV (no shell); true when it exited 0.  Its output goes to /dev/null. */
static bool run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int st = -1;
    bool ok = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0 && waitpid(pid, &st, 0) == pid &&
              WIFEXITED(st) && WEXITSTATUS(st) == 0;
    posix_spawn_file_actions_destroy(&fa);
    return ok;
}

/* A sparse file of SIZE bytes at PATH. */
static bool make_file(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ftruncate(fd, size) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static enum superblock_kind probe_file(const char *path, struct superblock_info *info)
{
    static unsigned char buf[SUPERBLOCK_PROBE_BYTES];
    memset(buf, 0xAA, sizeof buf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf, 0) : -1;
    if (fd >= 0)
        close(fd);
    return superblock_probe(buf, n > 0 ? (size_t)n : 0, info);
}

TEST(ext4_by_mke2fs)
{
    char img[64];
    snprintf(img, sizeof img, "%s/ext4", dir);
    CHECK(make_file(img, 8 << 20));
    char *argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-L", "keeldata", "-U",
                     "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", img, NULL };
    if (!run(argv))
        SKIP("mke2fs (e2fsprogs) is not installed");
    struct superblock_info info;
    CHECK_INT(probe_file(img, &info), SB_EXT);
    CHECK_STR(info.fstype, "ext4");
    CHECK_STR(info.label, "keeldata");
    CHECK_STR(info.uuid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    CHECK(superblock_uuid_match(&info, "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"));
    CHECK(!superblock_uuid_match(&info, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1"));

    char *argv2[] = { "mke2fs", "-q", "-F", "-t", "ext2", img, NULL };
    CHECK(run(argv2));
    CHECK_INT(probe_file(img, &info), SB_EXT);
    CHECK_STR(info.fstype, "ext2");
    CHECK_STR(info.label, "");
    char *argv3[] = { "mke2fs", "-q", "-F", "-t", "ext3", "-L", "x", img, NULL };
    CHECK(run(argv3));
    CHECK_INT(probe_file(img, &info), SB_EXT);
    CHECK_STR(info.fstype, "ext3");
    CHECK_STR(info.label, "x");
    unlink(img);
}

TEST(vfat_by_mkfs)
{
    char img[64];
    snprintf(img, sizeof img, "%s/vfat", dir);
    CHECK(make_file(img, 40 << 20));
    char *argv[] = { "mkfs.vfat", "-n", "KEELCFG", "-i", "1234ABCD", img, NULL };
    if (!run(argv))
        SKIP("mkfs.vfat (dosfstools) is not installed");
    struct superblock_info info;
    CHECK_INT(probe_file(img, &info), SB_VFAT);
    CHECK_STR(info.fstype, "vfat");
    CHECK_STR(info.label, "KEELCFG");
    CHECK_STR(info.uuid, "1234-ABCD");
    CHECK(superblock_uuid_match(&info, "1234-abcd"));
    /* FAT16 and FAT12 keep their extended block at another offset. */
    char *argv16[] = { "mkfs.vfat", "-F", "16", "-n", "SIXTEEN", img, NULL };
    CHECK(run(argv16));
    CHECK_INT(probe_file(img, &info), SB_VFAT);
    CHECK_STR(info.label, "SIXTEEN");
    char *argv12[] = { "mkfs.vfat", "-F", "12", img, NULL };
    CHECK(run(argv12));
    CHECK_INT(probe_file(img, &info), SB_VFAT);
    CHECK_STR(info.label, "");
    unlink(img);
}

TEST(xfs_by_mkfs)
{
    char img[64];
    snprintf(img, sizeof img, "%s/xfs", dir);
    CHECK(make_file(img, 320 << 20));
    char *argv[] = { "mkfs.xfs", "-q", "-f", "-L", "keelxfs", "-m", "uuid=11111111-2222-3333-4444-555555555555",
                     img, NULL };
    if (!run(argv))
        SKIP("mkfs.xfs (xfsprogs) is not installed");
    struct superblock_info info;
    CHECK_INT(probe_file(img, &info), SB_XFS);
    CHECK_STR(info.fstype, "xfs");
    CHECK_STR(info.label, "keelxfs");
    CHECK_STR(info.uuid, "11111111-2222-3333-4444-555555555555");
    unlink(img);
}

/* btrfs-progs is not needed for one fixture: the signature and fields at
 * their documented offsets (fs/btrfs/ctree.h: struct btrfs_super_block). */
TEST(btrfs_fixture)
{
    static unsigned char buf[SUPERBLOCK_PROBE_BYTES];
    memset(buf, 0, sizeof buf);
    unsigned char *sb = buf + 65536;
    for (int i = 0; i < 16; i++)
        sb[32 + i] = (unsigned char)(0xa0 + i);
    memcpy(sb + 64, "_BHRfS_M", 8);
    memcpy(sb + 299, "pool", 4);
    struct superblock_info info;
    CHECK_INT(superblock_probe(buf, sizeof buf, &info), SB_BTRFS);
    CHECK_STR(info.label, "pool");
    CHECK_STR(info.uuid, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
    /* Cut inside the superblock: not btrfs (never read past LEN), and not
     * empty either (its fsid bytes are there). */
    CHECK_INT(superblock_probe(buf, 65536 + 100, &info), SB_UNKNOWN);
}

TEST(empty_and_unknown)
{
    static unsigned char buf[SUPERBLOCK_PROBE_BYTES];
    memset(buf, 0, sizeof buf);
    struct superblock_info info;
    CHECK_INT(superblock_probe(buf, sizeof buf, &info), SB_EMPTY);
    CHECK_STR(info.fstype, "");
    /* One byte anywhere in the probed area: not empty, so never formatted.
     * An MBR partition table, a swap signature, iso9660's CD001. */
    static const size_t where[] = { 0, 446, 510, 4086, 32769, SUPERBLOCK_PROBE_BYTES - 1 };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        buf[where[i]] = 1;
        CHECK_INT(superblock_probe(buf, sizeof buf, &info), SB_UNKNOWN);
        buf[where[i]] = 0;
    }
    CHECK(superblock_all_zero(buf, sizeof buf));
    /* A label with control bytes is made printable; its size is bounded. */
    memset(buf, 0, sizeof buf);
    buf[1024 + 56] = 0x53, buf[1024 + 57] = 0xEF;
    memcpy(buf + 1024 + 120, "ab\033[2Jcdefghijklmnopq", 16);
    CHECK_INT(superblock_probe(buf, sizeof buf, &info), SB_EXT);
    CHECK_STR(info.label, "ab?[2Jcdefghijkl");
    CHECK_STR(info.uuid, "");   /* an all-zero uuid is none */
    /* Too short for any superblock. */
    CHECK_INT(superblock_probe(buf, 100, &info), SB_EMPTY);
    CHECK_INT(superblock_probe(buf, 0, &info), SB_EMPTY);
    /* A boot sector's 0x55AA without a FAT parameter block is not vfat. */
    memset(buf, 0, sizeof buf);
    buf[510] = 0x55, buf[511] = 0xAA;
    CHECK_INT(superblock_probe(buf, sizeof buf, &info), SB_UNKNOWN);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(ext4_by_mke2fs);
    RUN(vfat_by_mkfs);
    RUN(xfs_by_mkfs);
    RUN(btrfs_fixture);
    RUN(empty_and_unknown);
    rmdir(dir);
    return unit_done();
}

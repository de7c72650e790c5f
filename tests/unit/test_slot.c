/* Unit tests of slot.c: every transition of the A/B state machine, the
 * state file's text form and its atomic save. */
#include "keel/slot.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct slot_state st(enum slot a, enum slot t, enum slot p, unsigned n)
{
    struct slot_state s = { a, t, p, n };
    return s;
}

#define CHECK_STATE(s, a, t, p, n) do { \
    CHECK_STR(slot_name((s).active), a); CHECK_STR(slot_name((s).trying), t); \
    CHECK_STR(slot_name((s).previous), p); CHECK_INT((s).attempts, n); } while (0)

TEST(good_update_commits)
{
    struct slot_state s = st(SLOT_NONE, SLOT_NONE, SLOT_NONE, 0);
    CHECK_INT(slot_step(&s, SLOT_EV_INSTALL), 0);   /* first update: A, the image's manifest stays */
    CHECK_STATE(s, "-", "A", "-", 0);
    CHECK_INT(slot_current(&s), SLOT_A);
    CHECK_INT(slot_step(&s, SLOT_EV_BOOT), 0);       /* the switch is a reboot: the first one runs A */
    CHECK_STATE(s, "-", "A", "-", 1);
    CHECK_INT(slot_current(&s), SLOT_A);
    CHECK_INT(slot_step(&s, SLOT_EV_COMMIT), 0);
    CHECK_STATE(s, "A", "-", "-", 0);
    CHECK_INT(slot_step(&s, SLOT_EV_BOOT), 0);       /* a committed slot survives a reboot */
    CHECK_STATE(s, "A", "-", "-", 0);
    CHECK_INT(slot_step(&s, SLOT_EV_INSTALL), 0);    /* the next update goes to B */
    CHECK_STATE(s, "A", "B", "-", 0);
    CHECK_INT(slot_step(&s, SLOT_EV_BOOT), 0);
    CHECK_INT(slot_step(&s, SLOT_EV_COMMIT), 0);
    CHECK_STATE(s, "B", "-", "A", 0);
    CHECK_INT(slot_inactive(&s), SLOT_A);
    CHECK_INT(slot_step(&s, SLOT_EV_INSTALL), 0);    /* overwrites A: no going back to it */
    CHECK_STATE(s, "B", "A", "-", 0);
}

TEST(failures_roll_back)
{
    static const enum slot_event evs[] = { SLOT_EV_FAIL, SLOT_EV_BOOT, SLOT_EV_ROLLBACK };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        struct slot_state s = st(SLOT_A, SLOT_NONE, SLOT_NONE, 0);
        CHECK_INT(slot_step(&s, SLOT_EV_INSTALL), 0);
        CHECK_INT(slot_step(&s, SLOT_EV_BOOT), 0);       /* the switch */
        CHECK_INT(slot_current(&s), SLOT_B);
        CHECK_INT(slot_step(&s, evs[i]), 0);            /* the second BOOT: a reset while trying */
        CHECK_STATE(s, "A", "-", "-", 0);
        CHECK_INT(slot_current(&s), SLOT_A);
    }
    /* Many attempts (a state written by hand) roll back too. */
    struct slot_state s = st(SLOT_B, SLOT_A, SLOT_NONE, 7);
    CHECK_INT(slot_step(&s, SLOT_EV_BOOT), 0);
    CHECK_STATE(s, "B", "-", "-", 0);
}

TEST(forbidden)
{
    struct slot_state s = st(SLOT_A, SLOT_B, SLOT_NONE, 1);
    CHECK_INT(slot_step(&s, SLOT_EV_INSTALL), -EBUSY);
    CHECK_STATE(s, "A", "B", "-", 1);
    s = st(SLOT_A, SLOT_NONE, SLOT_NONE, 0);
    CHECK_INT(slot_step(&s, SLOT_EV_START), -EINVAL);
    CHECK_INT(slot_step(&s, SLOT_EV_COMMIT), -EINVAL);
    CHECK_INT(slot_step(&s, SLOT_EV_FAIL), -EINVAL);
    CHECK_STATE(s, "A", "-", "-", 0);
    s = st(SLOT_NONE, SLOT_NONE, SLOT_NONE, 0);
    CHECK_INT(slot_step(&s, SLOT_EV_ROLLBACK), -EINVAL);   /* nothing to go back to */
}

TEST(manual_rollback_after_commit)
{
    struct slot_state s = st(SLOT_B, SLOT_NONE, SLOT_A, 0);
    CHECK_INT(slot_step(&s, SLOT_EV_ROLLBACK), 0);
    CHECK_STATE(s, "A", "-", "B", 0);
    s = st(SLOT_A, SLOT_NONE, SLOT_NONE, 0);   /* the first update: back to the image's manifest */
    CHECK_INT(slot_step(&s, SLOT_EV_ROLLBACK), 0);
    CHECK_STATE(s, "-", "-", "A", 0);
}

TEST(text)
{
    char buf[SLOT_STATE_MAX];
    struct slot_state s = st(SLOT_A, SLOT_B, SLOT_NONE, 3), back;
    int n = slot_state_format(&s, buf, sizeof buf);
    CHECK(n > 0);
    CHECK_STR(buf, "active A\ntrying B\nprevious -\nattempts 3\ncommitted no\n");
    struct kerr e = { 0 };
    CHECK_INT(slot_state_parse(buf, (size_t)n, &back, &e), 0);
    CHECK(memcmp(&s, &back, sizeof s) == 0);
    CHECK_INT(slot_state_format(&s, buf, 10), -ENOSPC);

    static const char *const bad[] = {
        "",
        "active A\ntrying B\nprevious -\nattempts 3\ncommitted yes\n",       /* contradicts trying */
        "active A\ntrying A\nprevious -\nattempts 3\ncommitted no\n",        /* trying the active slot */
        "active A\ntrying -\nprevious -\nattempts 3\n",                      /* missing key */
        "active A\nactive A\ntrying -\nprevious -\nattempts 3\ncommitted yes\n",
        "active C\ntrying -\nprevious -\nattempts 0\ncommitted yes\n",
        "active A\ntrying -\nprevious -\nattempts -1\ncommitted yes\n",
        "active A\ntrying -\nprevious -\nattempts 0\ncommitted yes",          /* cut short */
        "active A\ntrying -\nprevious -\nattempts 0\ncommitted yes\nextra 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kerr_clear(&e);
        int r = slot_state_parse(bad[i], strlen(bad[i]), &back, &e);
        if (r != -EINVAL)
            fprintf(stderr, "  bad state %zu accepted\n", i);
        CHECK_INT(r, -EINVAL);
        CHECK(e.msg[0] != '\0');
    }
}

TEST(save_load)
{
    char dir[] = "/tmp/test_slot.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct slot_state s, back;
    struct kerr e = { 0 };
    CHECK_INT(slot_state_load(fd, &s, &e), 0);   /* no file: the initial state */
    CHECK_STATE(s, "-", "-", "-", 0);
    s = st(SLOT_B, SLOT_A, SLOT_NONE, 1);
    CHECK_INT(slot_state_save(fd, &s, &e), 0);
    CHECK_INT(slot_state_load(fd, &back, &e), 0);
    CHECK(memcmp(&s, &back, sizeof s) == 0);
    CHECK(faccessat(fd, "slots/state.new", F_OK, 0) < 0);   /* renamed, not left behind */
    s = st(SLOT_A, SLOT_NONE, SLOT_B, 0);
    CHECK_INT(slot_state_save(fd, &s, &e), 0);
    CHECK_INT(slot_state_load(fd, &back, &e), 0);
    CHECK_STATE(back, "A", "-", "B", 0);
    unlinkat(fd, "slots/state", 0);
    unlinkat(fd, "slots", AT_REMOVEDIR);
    close(fd);
    rmdir(dir);
}

int main(void)
{
    RUN(good_update_commits);
    RUN(failures_roll_back);
    RUN(forbidden);
    RUN(manual_rollback_after_commit);
    RUN(text);
    RUN(save_load);
    return unit_done();
}

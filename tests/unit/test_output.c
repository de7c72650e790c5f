/* test_output.c — what the echo to a terminal lets through (output_escape). */
#include "keel/output.h"

#include <string.h>

#include "unit.h"

static char got[256];

static const char *esc(const char *in, size_t n, size_t cap)
{
    size_t len = output_escape(in, n, got, cap);
    got[len] = '\0';
    return got;
}

#define ESC(s) esc(s, sizeof(s) - 1, sizeof got - 1)

TEST(plain_text_and_utf8_pass)
{
    CHECK_STR(ESC("hello, world\t(tab kept)"), "hello, world\t(tab kept)");
    CHECK_STR(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82 \xc2\xa0"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82 \xc2\xa0");
}

TEST(controls_escaped)
{
    CHECK_STR(ESC("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
    CHECK_STR(ESC("bell\a cr\r bs\b del\x7f nul"), "bell\\x07 cr\\x0d bs\\x08 del\\x7f nul");
    CHECK_STR(esc("a\0b", 3, sizeof got - 1), "a\\x00b");
    /* OSC 52 (clipboard write) and the title sequence, as a container would send them. */
    CHECK_STR(ESC("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
}

TEST(c1_and_invalid_utf8_escaped)
{
    /* C1 CSI as UTF-8 (U+009B) and as a raw byte (a Latin-1 terminal's CSI). */
    CHECK_STR(ESC("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
    CHECK_STR(ESC("\x9b" "2J"), "\\x9b2J");
    /* Overlong ESC, a surrogate, a truncated sequence, a stray continuation byte. */
    CHECK_STR(ESC("\xc0\x9b"), "\\xc0\\x9b");
    CHECK_STR(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    CHECK_STR(ESC("\xe2\x82"), "\\xe2\\x82");
    CHECK_STR(ESC("a\x80z"), "a\\x80z");
}

TEST(never_a_partial_escape)
{
    CHECK_STR(esc("ab\x1b", 3, 5), "ab");
    CHECK_STR(esc("ab\x1b", 3, 6), "ab\\x1b");
    CHECK_STR(esc("\xe2\x82\xac", 3, 2), "\xe2\x82");   /* text may be cut, like any long line */
}

int main(void)
{
    RUN(plain_text_and_utf8_pass);
    RUN(controls_escaped);
    RUN(c1_and_invalid_utf8_escaped);
    RUN(never_a_partial_escape);
    return unit_done();
}

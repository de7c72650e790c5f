/* cli.c — the verb table. */
#include "keel/cli.h"

#include <stdio.h>
#include <string.h>

int cli_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("keel %s\n", KEEL_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: keel COMMAND\n");
    return 2;
}

/* main.c — keel's entry point: PID 1 (boot mode) or the CLI. */
#include "keel/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}

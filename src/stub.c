/* stub.c — the exec stub, see stub.h. */
#include "keel/stub.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The whole ELF file, assembled into keel's read-only data: an ELF header,
 * two program headers (one read+execute PT_LOAD of the file at 0x400000, a
 * non-executable PT_GNU_STACK) and the code.  At entry the stack holds argc,
 * argv[], NULL, envp[]: argv + 1 is sp + 16, envp is sp + 16 + 8 * argc.
 * The report fd's number is parsed from argv[0] (digits only, below 2^20), and
 * a standby's release fd after a ',' when there is one.
 * Offsets are label differences within this one section, resolved by the
 * assembler.  One program per architecture keel builds for, the same steps. */
#define STUB_ELF_HEADERS(machine, align) \
    "    .pushsection .rodata.keel_stub, \"a\", %progbits\n" \
    "    .balign 16\n" \
    "    .globl keel_stub_image, keel_stub_size\n" \
    "    .hidden keel_stub_image, keel_stub_size\n" \
    "keel_stub_image:\n" \
    "    .byte 0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0\n"        /* \x7fELF, 64-bit, little-endian, v1, SysV */ \
    "    .quad 0\n" \
    "    .short 2, " machine "\n"                            /* ET_EXEC, e_machine */ \
    "    .long 1\n" \
    "    .quad 0x400000 + (.Lstub_code - keel_stub_image)\n" /* e_entry */ \
    "    .quad .Lstub_phdr - keel_stub_image\n"              /* e_phoff */ \
    "    .quad 0\n"                                          /* e_shoff */ \
    "    .long 0\n"                                          /* e_flags */ \
    "    .short 64, 56, 2, 64, 0, 0\n"                       /* ehsize, phentsize, phnum, shentsize, shnum, shstrndx */ \
    ".Lstub_phdr:\n" \
    "    .long 1, 5\n"                                       /* PT_LOAD, PF_R | PF_X */ \
    "    .quad 0, 0x400000, 0x400000\n"                      /* offset, vaddr, paddr */ \
    "    .quad .Lstub_end - keel_stub_image, .Lstub_end - keel_stub_image\n" \
    "    .quad " align "\n" \
    "    .long 0x6474e551, 6\n"                              /* PT_GNU_STACK, PF_R | PF_W */ \
    "    .quad 0, 0, 0, 0, 0, 16\n" \
    ".Lstub_code:\n"

#define STUB_ELF_END \
    ".Lstub_end:\n" \
    "    .balign 8\n" \
    "keel_stub_size:\n" \
    "    .quad .Lstub_end - keel_stub_image\n" \
    "    .popsection\n"

#if defined(__aarch64__)
__asm__(
    STUB_ELF_HEADERS("183", "0x10000")                       /* EM_AARCH64; 64 KiB pages possible */
    "    ldr x1, [sp]\n"                                     /* argc: the fd(s) and a command at least */
    "    cmp x1, #2\n"
    "    b.lo .Lstub_refuse\n"
    "    ldr x2, [sp, #8]\n"                                 /* argv[0]: the report fd, [",RELEASE_FD"] */
    "    mov x22, #-1\n"                                     /* the report fd: none parsed yet */
    ".Lstub_number:\n"                                      /* a digit first */
    "    ldrb w3, [x2]\n"
    "    sub w3, w3, #0x30\n"
    "    cmp w3, #9\n"
    "    b.hi .Lstub_refuse\n"
    "    mov w19, #0\n"
    ".Lstub_digit:\n"
    "    ldrb w3, [x2], #1\n"
    "    cbz w3, .Lstub_fd\n"
    "    cmp w3, #0x2c\n"                                    /* ',' */
    "    b.eq .Lstub_comma\n"
    "    sub w3, w3, #0x30\n"
    "    cmp w3, #9\n"
    "    b.hi .Lstub_refuse\n"
    "    mov w4, #10\n"
    "    madd w19, w19, w4, w3\n"
    "    mov w4, #0x100000\n"
    "    cmp w19, w4\n"
    "    b.hi .Lstub_refuse\n"
    "    b .Lstub_digit\n"
    ".Lstub_comma:\n"                                       /* one ',' at most */
    "    tbz x22, #63, .Lstub_refuse\n"
    "    mov w22, w19\n"
    "    b .Lstub_number\n"
    ".Lstub_fd:\n"
    "    tbz x22, #63, .Lstub_release\n"
    "    mov w22, w19\n"                                     /* one number: the report fd, no wait */
    "    b .Lstub_cloexec\n"
    ".Lstub_release:\n"                                     /* a standby: wait for the release byte */
    "    mov x20, #-3\n"                                     /* STUB_STEP_RELEASE */
    ".Lstub_read:\n"
    "    sub sp, sp, #16\n"
    "    mov w0, w19\n"                                      /* read(release_fd, buf, 1) */
    "    mov x1, sp\n"
    "    mov x2, #1\n"
    "    mov x8, #63\n"
    "    svc #0\n"
    "    add sp, sp, #16\n"
    "    cmn x0, #4\n"                                       /* EINTR */
    "    b.eq .Lstub_read\n"
    "    tbnz x0, #63, .Lstub_fail\n"
    "    cbz x0, .Lstub_discarded\n"                         /* EOF: keel discarded it, or is gone */
    "    mov x20, #-1\n"                                     /* STUB_STEP_CLOEXEC */
    "    mov w0, w19\n"                                      /* fcntl(release_fd, F_SETFD, FD_CLOEXEC) */
    "    mov x1, #2\n"
    "    mov x2, #1\n"
    "    mov x8, #25\n"
    "    svc #0\n"
    "    tbnz x0, #63, .Lstub_fail\n"
    ".Lstub_cloexec:\n"
    "    mov x20, #-1\n"                                     /* STUB_STEP_CLOEXEC */
    "    mov w0, w22\n"                                      /* fcntl(report_fd, F_SETFD, FD_CLOEXEC) */
    "    mov x1, #2\n"
    "    mov x2, #1\n"
    "    mov x8, #25\n"
    "    svc #0\n"
    "    tbnz x0, #63, .Lstub_fail\n"
    "    mov x20, #-2\n"                                     /* STUB_STEP_EXEC */
    "    ldr x3, [sp]\n"
    "    add x1, sp, #16\n"                                  /* argv + 1 */
    "    add x2, x1, x3, lsl #3\n"                           /* envp */
    "    ldr x0, [x1]\n"
    "    mov x8, #221\n"                                     /* execve(argv[1], argv + 1, envp) */
    "    svc #0\n"
    ".Lstub_fail:\n"                                         /* writev(fd, {{step, errno}, path}): one record */
    "    neg w21, w0\n"
    "    sub sp, sp, #48\n"                                  /* the record at 0, the iovec at 16; argv[1] now at 64 */
    "    str w20, [sp]\n"
    "    str w21, [sp, #4]\n"
    "    mov x3, sp\n"
    "    str x3, [sp, #16]\n"
    "    mov x3, #8\n"
    "    str x3, [sp, #24]\n"
    "    ldr x4, [sp, #64]\n"
    "    str x4, [sp, #32]\n"
    "    mov x5, #0\n"
    ".Lstub_len:\n"                                          /* strlen, at most STUB_PATH_MAX */
    "    cmp x5, #400\n"
    "    b.hs .Lstub_write\n"
    "    ldrb w6, [x4, x5]\n"
    "    cbz w6, .Lstub_write\n"
    "    add x5, x5, #1\n"
    "    b .Lstub_len\n"
    ".Lstub_write:\n"
    "    str x5, [sp, #40]\n"
    "    mov w0, w22\n"
    "    add x1, sp, #16\n"
    "    mov x2, #2\n"
    "    mov x8, #66\n"
    "    svc #0\n"
    ".Lstub_discarded:\n"
    "    mov x0, #127\n"
    "    b .Lstub_exit\n"
    ".Lstub_refuse:\n"
    "    mov x0, #126\n"
    ".Lstub_exit:\n"
    "    mov x8, #94\n"                                      /* exit_group */
    "    svc #0\n"
    "    brk #0\n"
    STUB_ELF_END);
#else
/* x86-64 (keel builds for these two; on another, this does not assemble). */
__asm__(
    STUB_ELF_HEADERS("62", "0x1000")                         /* EM_X86_64 */
    "    mov (%rsp), %rcx\n"                                 /* argc: the fd(s) and a command at least */
    "    cmp $2, %rcx\n"
    "    jb .Lstub_refuse\n"
    "    mov 8(%rsp), %rsi\n"                                /* argv[0]: the report fd, [",RELEASE_FD"] */
    "    mov $-1, %r12d\n"                                   /* the report fd: none parsed yet */
    ".Lstub_number:\n"                                      /* a digit first */
    "    movzbl (%rsi), %eax\n"
    "    sub $0x30, %eax\n"
    "    cmp $9, %eax\n"
    "    ja .Lstub_refuse\n"
    "    xor %edi, %edi\n"
    ".Lstub_digit:\n"
    "    movzbl (%rsi), %eax\n"
    "    inc %rsi\n"
    "    test %eax, %eax\n"
    "    jz .Lstub_fd\n"
    "    cmp $0x2c, %eax\n"                                  /* ',' */
    "    je .Lstub_comma\n"
    "    sub $0x30, %eax\n"
    "    cmp $9, %eax\n"
    "    ja .Lstub_refuse\n"
    "    imul $10, %edi, %edi\n"
    "    add %eax, %edi\n"
    "    cmp $0x100000, %edi\n"
    "    ja .Lstub_refuse\n"
    "    jmp .Lstub_digit\n"
    ".Lstub_comma:\n"                                       /* one ',' at most */
    "    test %r12d, %r12d\n"
    "    jns .Lstub_refuse\n"
    "    mov %edi, %r12d\n"
    "    jmp .Lstub_number\n"
    ".Lstub_fd:\n"
    "    test %r12d, %r12d\n"
    "    jns .Lstub_release\n"
    "    mov %edi, %r12d\n"                                  /* one number: the report fd, no wait */
    "    jmp .Lstub_cloexec\n"
    ".Lstub_release:\n"                                     /* a standby: wait for the release byte */
    "    mov %edi, %r14d\n"
    "    mov $-3, %r13d\n"                                   /* STUB_STEP_RELEASE */
    ".Lstub_read:\n"
    "    xor %eax, %eax\n"                                   /* read(release_fd, buf, 1): the red zone */
    "    mov %r14d, %edi\n"
    "    lea -8(%rsp), %rsi\n"
    "    mov $1, %edx\n"
    "    syscall\n"
    "    cmp $-4, %rax\n"                                    /* EINTR */
    "    je .Lstub_read\n"
    "    test %rax, %rax\n"
    "    js .Lstub_fail\n"
    "    jz .Lstub_discarded\n"                              /* EOF: keel discarded it, or is gone */
    "    mov $-1, %r13d\n"                                   /* STUB_STEP_CLOEXEC */
    "    mov $72, %eax\n"                                    /* fcntl(release_fd, F_SETFD, FD_CLOEXEC) */
    "    mov %r14d, %edi\n"
    "    mov $2, %esi\n"
    "    mov $1, %edx\n"
    "    syscall\n"
    "    test %rax, %rax\n"
    "    js .Lstub_fail\n"
    ".Lstub_cloexec:\n"
    "    mov $-1, %r13d\n"                                   /* STUB_STEP_CLOEXEC */
    "    mov $72, %eax\n"                                    /* fcntl(report_fd, F_SETFD, FD_CLOEXEC) */
    "    mov %r12d, %edi\n"
    "    mov $2, %esi\n"
    "    mov $1, %edx\n"
    "    syscall\n"
    "    test %rax, %rax\n"
    "    js .Lstub_fail\n"
    "    mov $-2, %r13d\n"                                   /* STUB_STEP_EXEC */
    "    mov (%rsp), %rcx\n"
    "    lea 16(%rsp), %rsi\n"                               /* argv + 1 */
    "    lea 16(%rsp,%rcx,8), %rdx\n"                        /* envp */
    "    mov (%rsi), %rdi\n"
    "    mov $59, %eax\n"                                    /* execve(argv[1], argv + 1, envp) */
    "    syscall\n"
    ".Lstub_fail:\n"                                         /* writev(fd, {{step, errno}, path}): one record */
    "    neg %eax\n"
    "    sub $40, %rsp\n"                                    /* the record at 0, the iovec at 8; argv[1] now at 56 */
    "    mov %r13d, (%rsp)\n"
    "    mov %eax, 4(%rsp)\n"
    "    mov %rsp, 8(%rsp)\n"
    "    movq $8, 16(%rsp)\n"
    "    mov 56(%rsp), %rsi\n"
    "    mov %rsi, 24(%rsp)\n"
    "    xor %ecx, %ecx\n"
    ".Lstub_len:\n"                                          /* strlen, at most STUB_PATH_MAX */
    "    cmp $400, %ecx\n"
    "    jae .Lstub_write\n"
    "    cmpb $0, (%rsi,%rcx)\n"
    "    je .Lstub_write\n"
    "    inc %ecx\n"
    "    jmp .Lstub_len\n"
    ".Lstub_write:\n"
    "    mov %rcx, 32(%rsp)\n"
    "    mov $20, %eax\n"
    "    mov %r12d, %edi\n"
    "    lea 8(%rsp), %rsi\n"
    "    mov $2, %edx\n"
    "    syscall\n"
    ".Lstub_discarded:\n"
    "    mov $127, %edi\n"
    "    jmp .Lstub_exit\n"
    ".Lstub_refuse:\n"
    "    mov $126, %edi\n"
    ".Lstub_exit:\n"
    "    mov $231, %eax\n"                                   /* exit_group */
    "    syscall\n"
    "    hlt\n"
    STUB_ELF_END);
#endif

/* Hidden globals: addressed directly, not through GOT entries of the section
 * with an addend (which the aarch64 static link merged into one). */
extern const unsigned char keel_stub_image[] __attribute__((visibility("hidden")));
extern const uint64_t keel_stub_size __attribute__((visibility("hidden")));

const unsigned char *stub_image(size_t *len)
{
    *len = (size_t)keel_stub_size;
    return keel_stub_image;
}

int stub_create(struct kerr *err)
{
    const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    size_t len;
    const unsigned char *img = stub_image(&len);
    int m = memfd_create("keel-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (m < 0 && errno == EINVAL)   /* before Linux 6.3: no MFD_EXEC, every memfd is executable */
        m = memfd_create("keel-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0)
        return kerr_set(err, errno, "cannot create the exec stub's memfd");
    ssize_t n = write(m, img, len);
    int r = 0;
    if (n != (ssize_t)len)
        r = kerr_set(err, n < 0 ? errno : EIO, "cannot write the exec stub");
    else if (fchmod(m, STUB_MODE) < 0)
        r = kerr_set(err, errno, "cannot make the exec stub execute-only");
    else if (fcntl(m, F_ADD_SEALS, seals) < 0)
        r = kerr_set(err, errno, "cannot seal the exec stub");
    if (r == 0) {
        int high = fcntl(m, F_DUPFD_CLOEXEC, STUB_FD_MIN);
        if (high < 0)
            r = kerr_set(err, errno, "cannot move the exec stub's memfd above fd %d", STUB_FD_MIN);
        close(m);
        m = high;
    }
    if (r < 0) {
        close_safe(m);
        return r;
    }
    return m;
}

char **stub_argv(int report_fd, int release_fd, char *const *argv)
{
    size_t n = 0;
    while (argv && argv[n])
        n++;
    /* One block: the vector, then the fds' digits. */
    char **v = malloc((n + 2) * sizeof *v + 32);
    if (!v)
        return NULL;
    char *digits = (char *)(v + n + 2);
    snprintf(digits, 32, release_fd >= 0 ? "%d,%d" : "%d", report_fd, release_fd);
    v[0] = digits;
    for (size_t i = 0; i < n; i++)
        v[i + 1] = argv[i];
    v[n + 1] = NULL;
    return v;
}

int stub_exec(int fd, char *const *sargv, char *const *envp)
{
    syscall(SYS_execveat, fd, "", sargv, envp, AT_EMPTY_PATH);
    return -errno;
}

bool stub_report_decode(const void *buf, size_t n, struct kerr *err)
{
    struct stub_report rep;
    if (n < sizeof rep || n > sizeof rep + STUB_PATH_MAX)
        return false;
    memcpy(&rep, buf, sizeof rep);
    int len = (int)(n - sizeof rep);
    const char *path = (const char *)buf + sizeof rep;
    /* By -step: STUB_STEP_CLOEXEC, STUB_STEP_EXEC, STUB_STEP_RELEASE. */
    static const char *const why[] = {
        ": the exec stub cannot make its report channel close-on-exec (the seccomp filter must allow fcntl)", "",
        ": the exec stub cannot wait for its release as a standby (the seccomp filter must allow read)",
    };
    if (rep.step >= 0 || rep.step < -(int32_t)ARRAY_SIZE(why))
        return false;
    kerr_set(err, rep.code, "cannot execute %.*s%s", len, path, why[-rep.step - 1]);
    return true;
}

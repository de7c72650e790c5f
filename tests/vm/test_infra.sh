#!/bin/bash
# test_infra.sh — proves the VM harness itself with an initramfs whose /init is
# a busybox shell script (no keel): the kernel boots, the console is read,
# a guest poweroff and a guest reboot are told apart, the monitor reaches the
# guest (sendkey ctrl-alt-delete reboots a kernel whose init did not disable it).
set -u
. "$(dirname "$0")/lib.sh"

root=$VM_OUT/infra-root
rm -rf "$root"; mkdir -p "$root/dev" "$root/proc"
vm_busybox_into "$root" || vm_fail "infra: busybox" "busybox-static is not installed"
cat > "$root/init" <<'SH'
#!/bin/sh
mount -t proc proc /proc
echo "infra: init is pid $$"
case " $(cat /proc/cmdline) " in
*" infra=poweroff "*) echo "infra: powering off"; poweroff -f ;;
*) echo "infra: waiting"; while :; do sleep 1; done ;;
esac
SH
chmod +x "$root/init"
vm_cpio "$root" "$VM_OUT/infra.cpio"

# 1: the guest powers itself off.
vm_start infra-poweroff "$VM_OUT/infra.cpio" "infra=poweroff"
vm_wait_ok "infra: boots to a shell /init as pid 1" 'infra: init is pid 1' 60
vm_wait_end 60
vm_end_is "infra: guest poweroff detected" poweroff

# 2: ctrl-alt-delete through the monitor reboots (the kernel's default C-A-D).
vm_start infra-reboot "$VM_OUT/infra.cpio" ""
if vm_wait 'infra: waiting' 60; then
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    vm_end_is "infra: monitor sendkey and guest reboot detected" reboot
else
    vm_not_ok "infra: monitor sendkey and guest reboot detected" "guest did not come up"
    vm_stop
fi

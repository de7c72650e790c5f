#!/bin/bash
# test_demo.sh — the demo appliance (configs/demo.ini, issues 3 and 4), end to
# end as `make demo` runs it: the image boots, its web container sits on keel's
# bridge network with port 80 published, the page is fetched from the host
# through QEMU's port forward and keel's DNAT rule, and QEMU's power button
# gives a clean poweroff.  TCG only (KVM hangs on these machines).
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "demo: keel"
# A free loopback port for the forward: never the user's 8080.  The port is
# released before QEMU binds it, so someone else (a second run) may take it
# in between: when the demo says the port is in use, or QEMU could not set up
# the forward, try another port (a few times).  The demo runs in this
# script's VM_OUT, so its console and monitor are this run's own.
out=$VM_OUT/demo-test.out
export VM_OUT
rc=1
for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    KEEL=$KEEL DEMO_PORT=$port QEMU_ACCEL=tcg timeout 300 initramfs/demo > "$out" 2>&1
    rc=$?
    if grep -q "port 127.0.0.1:$port is already in use" "$out" ||
        grep -qi 'could not set up host forwarding' "$VM_OUT/demo-tcg.qemu.log" 2>/dev/null; then
        echo "# port $port was taken (try $try), trying another"
        continue
    fi
    break
done
if [ "$rc" = 0 ]; then
    vm_ok "demo: make demo boots the appliance, serves its page and powers off cleanly"
else
    vm_not_ok "demo: make demo boots the appliance, serves its page and powers off cleanly" "$(tail -n 5 "$out")"
fi
grep -q 'Hello from a keel appliance' "$out" && vm_ok "demo: the page came through the published port" ||
    vm_not_ok "demo: the page came through the published port" "no page in the output"
console=$VM_OUT/demo-tcg.console
grep -aq 'keel: web: started' "$console" && grep -aq 'keel: stage: networks ready' "$console" &&
    vm_ok "demo: the web container runs on the bridge network" ||
    vm_not_ok "demo: the web container runs on the bridge network" "no web start or network stage on the console"
grep -aq 'reboot: Power down' "$console" && vm_ok "demo: the power button powers the appliance off" ||
    vm_not_ok "demo: the power button powers the appliance off" "no power down on the console"
# The demo's whole life (boot, the page, the power button, the release of its
# address) logs no error; the control is the started line read above.
if grep -aq 'keel: web: started' "$console" && ! grep -aq 'keel: error:' "$console"; then
    vm_ok "demo: keel logged no error from boot to power-off"
else
    vm_not_ok "demo: keel logged no error from boot to power-off" "$(grep -a 'keel: error:' "$console" | head -n 3)"
fi

# Shared by scripts/test, scripts/demo and scripts/bench: install what a fresh Debian machine lacks.
#
# - openssh-server (sshd for the tests' throwaway servers) and openssh-client (ssh -G, the
#   reference in benchmarks), pkg-config + libssl-dev (to build libssh2 with OpenSSL).
# - As root, a login user `scouttest` with /bin/sh as shell: sshd runs every command through the
#   user's login shell, and root's shell on these machines sources a heavy ~/.bashrc (pyenv init,
#   which can stall 60 s on a lock when shells start in parallel). Tests log in as this user
#   instead (tests/common/sshd.rs picks it when running as root).

ensure_prereqs() {
    local need=()
    [ -x /usr/sbin/sshd ] || need+=(openssh-server)
    command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
    command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
    [ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
    if [ "${#need[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            echo "==> installing ${need[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        else
            echo "missing: ${need[*]} — install them (e.g. sudo apt-get install ${need[*]})" >&2
            exit 1
        fi
    fi
    if [ "$(id -u)" = 0 ]; then
        mkdir -p /run/sshd
        if ! id scouttest >/dev/null 2>&1; then
            echo "==> creating the test login user 'scouttest' (shell /bin/sh)"
            useradd -m -s /bin/sh scouttest
        fi
        # A fresh account's password is locked ('!'), which sshd refuses with UsePAM no.
        usermod -p '*' scouttest
    fi
}

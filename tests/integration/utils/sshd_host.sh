# Sourced by tests that reach a managed host over a real SSH connection: the remote_cache
# integration target and make bench. Needs root (useradd, sshd), Debian's openssh-server and sudo.
#
#   sshd_host_init WORKDIR        a key pair for the controller in WORKDIR
#   sshd_host_user NAME [SHELL]   a local user whose authorized key is the controller's
#   sshd_host_start ADDR PORT [NETNS] [USER...]  Debian's sshd on ADDR:PORT (in NETNS), for USERs
#   sshd_host_cleanup             stops the sshd, removes the users and their sudoers files
#
# Every name it creates starts with rops- so that it cannot collide with another test's.

SSHD_HOST_DIR=""
SSHD_HOST_PIDS=()
SSHD_HOST_USERS=()
SSHD_HOST_SUDOERS=()

sshd_host_init() {
  SSHD_HOST_DIR=$1
  mkdir -p "$SSHD_HOST_DIR"
  chmod 0755 "$SSHD_HOST_DIR"
  ssh-keygen -q -t ed25519 -N '' -C rops-controller -f "$SSHD_HOST_DIR/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C rops-host -f "$SSHD_HOST_DIR/host_ed25519"
  mkdir -p /run/sshd
}

# A user with a home, a login shell that reads no start-up files (/bin/sh as a non-login shell for
# commands), no password (sshd's UsePAM no refuses locked accounts, so the password is '*'), and
# the controller's key.
sshd_host_user() {
  local name=$1 shell=${2:-/bin/sh}
  useradd -m -s "$shell" "$name"
  SSHD_HOST_USERS+=("$name")
  usermod -p '*' "$name"
  local home
  home=$(getent passwd "$name" | cut -d: -f6)
  install -d -m 0700 -o "$name" -g "$name" "$home/.ssh"
  install -m 0600 -o "$name" -g "$name" "$SSHD_HOST_DIR/id_ed25519.pub" "$home/.ssh/authorized_keys"
}

# sshd_host_sudoers NAME LINE...: a sudoers file /etc/sudoers.d/NAME, checked by visudo.
sshd_host_sudoers() {
  local name=$1
  shift
  local f="/etc/sudoers.d/$name"
  printf '%s\n' "$@" >"$f.tmp"
  chmod 0440 "$f.tmp"
  visudo -cqf "$f.tmp"
  mv "$f.tmp" "$f"
  SSHD_HOST_SUDOERS+=("$f")
}

sshd_host_start() {
  local addr=$1 port=$2 netns=${3:-}
  shift 3 || shift $#
  local cfg="$SSHD_HOST_DIR/sshd_config.$port"
  cat >"$cfg" <<EOF
ListenAddress $addr
Port $port
HostKey $SSHD_HOST_DIR/host_ed25519
PidFile $SSHD_HOST_DIR/sshd.$port.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes yes
MaxStartups 200:30:400
MaxSessions 200
LogLevel ERROR
Subsystem sftp internal-sftp
EOF
  [ $# -gt 0 ] && echo "AllowUsers $*" >>"$cfg"
  local run=()
  [ -n "$netns" ] && run=(ip netns exec "$netns")
  "${run[@]}" /usr/sbin/sshd -D -f "$cfg" -E "$SSHD_HOST_DIR/sshd.$port.log" &
  SSHD_HOST_PIDS+=($!)
  # Ready when it answers: a bounded wait for the server to start, not a measured delay.
  local i
  for i in $(seq 1 100); do
    if "${run[@]}" ssh-keyscan -T 1 -p "$port" "$addr" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "sshd on $addr:$port did not start:" >&2
  cat "$SSHD_HOST_DIR/sshd.$port.log" >&2
  return 1
}

sshd_host_cleanup() {
  local pid u f
  # The controller's SSH masters (ControlPersist) under $SSHD_HOST_DIR/cp end their sessions.
  for f in "$SSHD_HOST_DIR"/cp/*; do
    [ -S "$f" ] && ssh -o ControlPath="$f" -O exit rops-host >/dev/null 2>&1 || true
  done
  for pid in "${SSHD_HOST_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for u in "${SSHD_HOST_USERS[@]}"; do
    userdel -r -f "$u" >/dev/null 2>&1 || true
  done
  for f in "${SSHD_HOST_SUDOERS[@]}"; do
    rm -f "$f"
  done
  SSHD_HOST_PIDS=()
  SSHD_HOST_USERS=()
  SSHD_HOST_SUDOERS=()
}

# A free TCP port on 127.0.0.1.
sshd_host_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

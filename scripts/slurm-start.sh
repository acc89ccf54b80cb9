#!/usr/bin/env bash
# Starts a single-node Slurm on this machine for trying Baton's Slurm executor and for its tests
# (test/helpers/slurm.ts): munged, slurmctld and slurmd, no systemd, no accounting database.
# Needs root and Debian's packages (apt-get install slurm-wlm munge, or
# scripts/install-test-deps.sh).
#   scripts/slurm-start.sh          start (does nothing when `sinfo` already answers)
#   scripts/slurm-start.sh stop     stop slurmctld, slurmd and munged
# The node is this host, in one partition `debug` (the default). It declares
# SLURM_NODE_CPUS CPUs (default: 4 per core) so that many small test jobs run side by side;
# the jobs still share the real cores.
set -euo pipefail
if [ "${1:-start}" = stop ]; then
  scontrol shutdown >/dev/null 2>&1 || true
  if [ -s /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
  echo "slurm-start: stopped"
  exit 0
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm-start: Slurm is not installed (no slurmctld/munged): apt-get install slurm-wlm munge" >&2
  exit 2
fi
if sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  echo "slurm-start: already running ($(sinfo -h -o '%P %D %T' | head -1))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-start: must run as root to start munged, slurmctld and slurmd" >&2
  exit 1
fi
HOST=$(hostname -s)
CPUS=${SLURM_NODE_CPUS:-$(( $(nproc) * 4 ))}
MEM_MB=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512 ))

# munge: the key and the daemon (checked by a round trip, not by pid: a dead munged may linger).
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
chown munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  head -c 1024 /dev/urandom > /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

# slurm.conf: one node, one partition; ended jobs kept 10 minutes for squeue (no accounting
# needed: Baton reads an ended job's exit status from its file once Slurm forgets it), and room
# for the 5,000 jobs a benchmark run submits.
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
# Written by Baton's scripts/slurm-start.sh
ClusterName=baton
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=600
MaxJobCount=50000
KillWait=5
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 1 60); do
  sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' && break
  sleep 0.5
done
if ! sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  echo "slurm-start: the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
  sinfo >&2 || true
  exit 1
fi
echo "slurm-start: running ($(sinfo -h -o '%P %D %T %c' | head -1))"

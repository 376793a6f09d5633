#!/bin/bash
# rerofs lazy-pulling selftests (issue 14), guest side; sourced by
# selftests/guest/main.sh, whose ktest/step/helpers it uses. Everything runs in
# the guest on 127.0.0.1 (lo brought up here): Debian's docker-registry (a real
# OCI registry, filesystem storage in the guest's tmpfs), `rerofs push` of the
# image selftests/run.sh made in $DATA/lazy (meta.img, blobs/, src/, sums:
# about 16 MiB, 64 KiB chunks; 256 MiB with RERO_LAZY_LONG=1 on the host),
# `rerofs pull --lazy`, `rerofs fetchd` on /dev/rerofs-ondemand, and a mount
# with -o blobdir=DIR,ondemand. Bytes fetched are counted twice: fetchd's own
# statistics (--stats) and the registry's access log (206 responses).

# (Sourced before main.sh's main runs: $TOP is not set yet. run.sh passes the
# binary it made the images with as RERO_BIN; without it, the release build of
# the checkout is used.)
LZ_BIN=${RERO_BIN:-${RERO_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tools/target/release/rerofs}
LZ_REG=/usr/bin/docker-registry
LZ_PORT=5714
LZ= LZ_REF= LZ_REGPID= LZ_FETCHD=
# What fetchd serves: the blob directory and the image reference (the encrypted
# image's tests at the end switch both).
LZ_FBLOBS= LZ_FREF=

lz_http_ok() { # the registry answers GET /v2/ with 200 (bash's /dev/tcp: no exec)
	local fd line
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$LZ_PORT"; } 2>/dev/null || return 1
	printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&$fd
	read -r -t 5 line <&$fd
	exec {fd}>&-
	[[ $line == *" 200 "* ]]
}

lz_stat() { # KEY: a number from fetchd's --stats file
	local s
	s=$(<"$LZ/stats.json") || return 1
	[[ $s =~ \"$1\":([0-9]+) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

lz_log206() { # "COUNT BYTES" of the registry's 206 (range) answers so far
	local l n=0 b=0 rest
	local -a f
	while IFS= read -r l; do
		[[ $l == *'"GET /v2/'*'/blobs/sha256:'* ]] || continue
		rest=${l##*HTTP/1.1\" }
		read -ra f <<<"$rest"
		[ "${f[0]}" = 206 ] || continue
		n=$((n + 1)) b=$((b + f[1]))
	done <"$LZ/registry.log"
	echo "$n $b"
}

lz_fetchd_start() { # [FETCHD OPTIONS]: start fetchd, wait until it serves the device
	local i
	: >"$LZ/fetchd.log"
	"$LZ_BIN" fetchd --blob-dir "${LZ_FBLOBS:-$LZ/blobs}" --stats "$LZ/stats.json" "$@" "${LZ_FREF:-$LZ_REF:v1}" \
		2>>"$LZ/fetchd.log" &
	LZ_FETCHD=$!
	for ((i = 0; i < 300; i++)); do
		grep -q 'fetchd: serving' "$LZ/fetchd.log" 2>/dev/null && return 0
		kill -0 "$LZ_FETCHD" 2>/dev/null || break
		sleep 0.1
	done
	catf "$LZ/fetchd.log"
	echo "fetchd did not start"
	return 1
}

lz_fetchd_stop() { # SIGTERM; fetchd prints its statistics and exits 0
	[ -n "$LZ_FETCHD" ] || return 0
	kill -TERM "$LZ_FETCHD" 2>/dev/null
	wait "$LZ_FETCHD"
	local rc=$?
	LZ_FETCHD=
	tail -n 2 "$LZ/fetchd.log"
	return $rc
}

lz_setup() {
	local i
	LZ=$WORK/img/lz
	LZ_REF=127.0.0.1:$LZ_PORT/lazy/img
	mkdir -p "$LZ/reg" "$LZ/mnt" "$LZ/bad" || return 1
	ip link set lo up || return 1
	cat >"$LZ/config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $LZ/reg
http:
  addr: 127.0.0.1:$LZ_PORT
CFG
	"$LZ_REG" serve "$LZ/config.yml" >"$LZ/registry.log" 2>&1 &
	LZ_REGPID=$!
	for ((i = 0; i < 600; i++)); do
		lz_http_ok && break
		kill -0 "$LZ_REGPID" 2>/dev/null || { catf "$LZ/registry.log"; return 1; }
		sleep 0.2
	done
	lz_http_ok || { echo "the registry did not come up"; return 1; }
	"$LZ_BIN" push -q "$DATA/lazy/meta.img" --blob-dir "$DATA/lazy/blobs" "$LZ_REF:v1"
}

lz_pull() { # lazy pull into $LZ/blobs: only metadata, trees and trailers fetched
	local before after nblobs
	before=$(lz_log206)
	"$LZ_BIN" pull -q --lazy "$LZ_REF:v1" "$LZ/blobs" || return 1
	after=$(lz_log206)
	nblobs=$(ls "$DATA/lazy/blobs" | wc -l)
	echo "blobs: $nblobs; registry range GETs: ${before% *} -> ${after% *}; on disk: $(du -sk "$LZ/blobs" | cut -f1) KiB of $(du -sk --apparent-size "$LZ/blobs" | cut -f1) KiB"
	[ $((${after% *} - ${before% *})) = $((2 * nblobs)) ]
}

lz_mount() { # DIR: mount the lazily pulled image with ondemand
	mount_rerofs "$LZ/blobs/meta.img" "$1" "blobdir=$LZ/blobs,ondemand"
}

lz_ls() { # ls -lR works, and needed no fetch
	ls -lR "$LZ/mnt" >"$LZ/ls.out" || return 1
	echo "ls -lR: $(wc -l <"$LZ/ls.out") lines; fetchd requests: $(lz_stat requests)"
	[ "$(lz_stat requests)" = 0 ]
}

lz_read_one() { # one 1 MiB file: right bytes, at most its 16 chunks fetched
	local b0 r0 b1 r1 want got l0 l1
	b0=$(lz_stat bytes_fetched) r0=$(lz_stat requests) l0=$(lz_log206)
	want=$(grep ' ./one-mib$' "$DATA/lazy/sums" | cut -d' ' -f1)
	got=$(sha256sum <"$LZ/mnt/one-mib" | cut -d' ' -f1) || return 1
	b1=$(lz_stat bytes_fetched) r1=$(lz_stat requests) l1=$(lz_log206)
	echo "fetchd: $((r1 - r0)) requests, $((b1 - b0)) bytes; registry: $((${l1% *} - ${l0% *})) range GETs, $((${l1#* } - ${l0#* })) bytes"
	[ "$want" = "$got" ] || { echo "content differs"; return 1; }
	[ $((b1 - b0)) -le 1048576 ] && [ $((${l1#* } - ${l0#* })) -le 1048576 ] && [ $((b1 - b0)) -gt 0 ]
}

lz_concurrent() { # 8 readers of one cold 2 MiB file: each 64 KiB unit fetched once
	local b0 r0 b1 r1 i pids=() want rc=0
	b0=$(lz_stat bytes_fetched) r0=$(lz_stat requests)
	want=$(grep ' ./cold/two-mib$' "$DATA/lazy/sums" | cut -d' ' -f1)
	for i in 1 2 3 4 5 6 7 8; do
		sha256sum <"$LZ/mnt/cold/two-mib" >"$LZ/sum.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(cut -d' ' -f1 "$LZ/sum.$i")" = "$want" ] || { echo "reader $i got other bytes"; rc=1; }
	done
	b1=$(lz_stat bytes_fetched) r1=$(lz_stat requests)
	echo "fetchd: $((r1 - r0)) requests, $((b1 - b0)) bytes for a 2 MiB file read by 8 readers"
	[ $rc = 0 ] && [ $((b1 - b0)) -le $((2 << 20)) ] && [ $((r1 - r0)) -le 32 ]
}

lz_all() { # every file == the source tree; fetched bytes <= the data
	(cd "$LZ/mnt" && sha256sum --quiet -c "$DATA/lazy/sums") || return 1
	echo "fetchd: $(lz_stat requests) requests, $(lz_stat bytes_fetched) bytes; registry: $(lz_log206) (range GETs, bytes)"
	echo "data blobs: $(du -cb "$DATA"/lazy/blobs/* | tail -1 | cut -f1) bytes"
}

lz_nodaemon() { # no daemon: EIO at once, no hang
	local t0=$EPOCHSECONDS
	if cat "$LZ/mnt/cold/nodaemon" >/dev/null 2>"$LZ/err"; then
		echo "read succeeded without a daemon"
		return 1
	fi
	catf "$LZ/err"
	grep -q 'Input/output error' "$LZ/err" && [ $((EPOCHSECONDS - t0)) -le 10 ]
}

lz_corrupt() { # flipped bytes: EIO, and no wrong byte reaches the reader
	lz_fetchd_start --corrupt-for-test || return 1
	"${PY[@]}" - "$LZ/mnt/cold/corrupt" "$DATA/lazy/src/cold/corrupt" <<'PY'
import sys
got_eio = False
src = open(sys.argv[2], "rb").read()
with open(sys.argv[1], "rb", buffering=0) as f:
    pos = 0
    while pos < len(src):
        try:
            b = f.read(4096)
        except OSError as e:
            assert e.errno == 5, e
            got_eio = True
            pos += 4096
            f.seek(pos)
            continue
        if not b:
            break
        assert b == src[pos:pos + len(b)], f"wrong bytes at {pos}"
        pos += len(b)
print("EIO seen:", got_eio)
sys.exit(0 if got_eio else 1)
PY
	local rc=$?
	lz_fetchd_stop
	return $rc
}

lz_recovers() { # a good daemon then serves the same file on the same mount
	lz_fetchd_start || return 1
	local want got
	want=$(grep ' ./cold/corrupt$' "$DATA/lazy/sums" | cut -d' ' -f1)
	got=$(sha256sum <"$LZ/mnt/cold/corrupt" | cut -d' ' -f1)
	[ "$want" = "$got" ]
}

lz_killed() { # fetchd killed while a read waits: EIO soon, then a new fetchd serves it
	local reader t0 rc want got
	lz_fetchd_stop >/dev/null
	lz_fetchd_start --delay-for-test 4000 || return 1
	t0=$EPOCHSECONDS
	cat "$LZ/mnt/cold/killed" >/dev/null 2>"$LZ/err" &
	reader=$!
	sleep 1
	kill -KILL "$LZ_FETCHD"
	wait "$LZ_FETCHD" 2>/dev/null
	LZ_FETCHD=
	wait "$reader"
	rc=$?
	echo "reader: exit $rc after $((EPOCHSECONDS - t0)) s: $(<"$LZ/err")"
	[ $rc != 0 ] || { echo "the read succeeded"; return 1; }
	lz_fetchd_start || return 1
	want=$(grep ' ./cold/killed$' "$DATA/lazy/sums" | cut -d' ' -f1)
	got=$(sha256sum <"$LZ/mnt/cold/killed" | cut -d' ' -f1)
	[ "$want" = "$got" ] || { echo "the restarted daemon's read differs"; return 1; }
}

lz_timeout_kill_umount() { # a daemon that never answers: timeout -> EIO (then at once); kill -9 works; umount -l works
	local holder reader t0 rc old
	lz_fetchd_stop >/dev/null
	old=$(</sys/module/rerofs/parameters/ondemand_timeout)
	echo 3 >/sys/module/rerofs/parameters/ondemand_timeout
	# A "daemon" that opens the device and never reads it.
	sleep 600 <>/dev/rerofs-ondemand &
	holder=$!
	sleep 0.5
	t0=$EPOCHSECONDS
	cat "$LZ/mnt/cold/timeout" >/dev/null 2>"$LZ/err"
	rc=$?
	echo "timed-out read: exit $rc after $((EPOCHSECONDS - t0)) s"
	[ $rc != 0 ] || { kill "$holder"; return 1; }
	# Its requests expired: the same read now fails at once.
	t0=$EPOCHSECONDS
	cat "$LZ/mnt/cold/timeout" >/dev/null 2>&1 && { kill "$holder"; return 1; }
	echo "again: failed after $((EPOCHSECONDS - t0)) s"
	[ $((EPOCHSECONDS - t0)) -le 2 ] || { kill "$holder"; return 1; }
	echo 600 >/sys/module/rerofs/parameters/ondemand_timeout
	cat "$LZ/mnt/cold/nodaemon" >/dev/null 2>&1 &
	reader=$!
	sleep 1
	t0=$EPOCHSECONDS
	kill -KILL "$reader"
	wait "$reader"
	echo "killed reader gone after $((EPOCHSECONDS - t0)) s"
	[ $((EPOCHSECONDS - t0)) -le 5 ] || { kill "$holder"; return 1; }
	# A reader waiting while the file system is detached.
	cat "$LZ/mnt/cold/nodaemon" >/dev/null 2>&1 &
	reader=$!
	sleep 1
	umount -l "$LZ/mnt" || { kill "$holder"; return 1; }
	kill "$holder"
	wait "$holder" 2>/dev/null
	wait "$reader"
	echo "reader after umount -l and the holder gone: exit $?"
	echo "$old" >/sys/module/rerofs/parameters/ondemand_timeout
	! is_mounted "$LZ/mnt"
}

lz_teardown() {
	lz_fetchd_stop >/dev/null 2>&1
	is_mounted "$LZ/mnt" && umount "$LZ/mnt"
	[ -n "$LZ_REGPID" ] && kill "$LZ_REGPID" 2>/dev/null && wait "$LZ_REGPID" 2>/dev/null
	LZ_REGPID=
	rm -rf "$LZ"
}

lz_remount() { # mount again (after umount -l) and start a daemon
	lz_mount "$LZ/mnt" && lz_fetchd_start
}

# ---- an encrypted image, pulled lazily (the encrypt group's a.img, its key a.key)
lz_enc_setup() { # push a.img, pull it lazily, mount with ondemand and key=
	local ed=$DATA/encrypt before after
	[ -f "$ed/a.img" ] || { echo "no $ed/a.img (selftests/run.sh makes it)"; return 1; }
	is_mounted "$LZ/mnt" && { umount "$LZ/mnt" || return 1; }
	"$LZ_BIN" push -q "$ed/a.img" --blob-dir "$ed/blobs" "$LZ_REF-enc:v1" || return 1
	before=$(lz_log206)
	"$LZ_BIN" pull -q --lazy "$LZ_REF-enc:v1" "$LZ/enc" || return 1
	after=$(lz_log206)
	echo "lazy pull of the encrypted image: $((${after% *} - ${before% *})) range GETs; on disk: $(du -sk "$LZ/enc" | cut -f1) KiB of $(du -sk --apparent-size "$LZ/enc" | cut -f1) KiB"
	keyctl padd logon rerofs:lz-enc @u <"$ed/keys/a.key" >/dev/null || return 1
	dmesg_mark
	mount_rerofs "$LZ/enc/meta.img" "$LZ/mnt" "blobdir=$LZ/enc,ondemand,key=lz-enc" || return 1
	dmesg_match -q 'encrypted \(key check verified\)' || { echo "dmesg does not say: encrypted"; return 1; }
	mnt_show "$LZ/mnt"
}

lz_enc_nodaemon() { # before any daemon: the data is not there, reads fail with EIO
	local f
	f=$(find "$LZ/mnt" -type f -size +8k | head -n 1)
	[ -n "$f" ] || { echo "no file over 8 KiB"; return 1; }
	if head -c 8192 "$f" >/dev/null 2>"$LZ/err"; then echo "$f read without a daemon"; return 1; fi
	grep -q 'Input/output error' "$LZ/err"
}

lz_enc_read() { # fetchd serves it: every path reads right (decrypted after verification)
	local b r data
	LZ_FBLOBS=$LZ/enc LZ_FREF=$LZ_REF-enc:v1
	lz_fetchd_start || return 1
	timeout -k 5 600 "${PY[@]}" "$HERE/veritytest.py" readall "$LZ/mnt" "$DATA/encrypt/ref.json" || return 1
	b=$(lz_stat bytes_fetched) r=$(lz_stat requests)
	data=$(du -cb $(e_tags_of "$DATA/encrypt/a.img") | tail -1 | cut -f1)
	echo "fetchd: $r requests, $b bytes (the image's data blobs: $data bytes, trees included)"
	[ "$r" -gt 0 ] && [ "$b" -gt 0 ] && [ "$b" -le "$data" ]
}

lz_enc_done() { # daemon stopped, unmounted, key gone
	local rc=0
	lz_fetchd_stop >/dev/null || rc=1
	LZ_FBLOBS= LZ_FREF=
	umount "$LZ/mnt" || rc=1
	keyctl purge logon rerofs:lz-enc >/dev/null || rc=1
	return $rc
}

e_tags_of() { # IMG: the paths of the data blobs it names (in $DATA/encrypt/blobs)
	"$LZ_BIN" inspect --json "$1" | "${PY[@]}" -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    print(sys.argv[1] + "/" + d["tag"])' "$DATA/encrypt/blobs"
}

lazy_tests() {
	ktest "lazy: docker-registry on 127.0.0.1, rerofs push of the image" lz_setup
	ktest "lazy: rerofs pull --lazy fetches metadata, trees and trailers only" lz_pull
	ktest "lazy: mount -o blobdir=,ondemand" lz_mount "$LZ/mnt"
	ktest "lazy: no daemon: a read of an absent range fails with EIO at once" lz_nodaemon
	ktest "lazy: rerofs fetchd serves /dev/rerofs-ondemand" lz_fetchd_start
	ktest "lazy: ls -lR needs no fetch" lz_ls
	ktest "lazy: reading one 1 MiB file fetches at most its chunks" lz_read_one
	ktest "lazy: 8 concurrent readers of a cold file: each chunk fetched once" lz_concurrent
	ktest "lazy: fetchd stops on SIGTERM and prints its statistics" lz_fetchd_stop
	ktest "lazy: a daemon returning flipped bytes: EIO, no wrong byte read" lz_corrupt
	ktest "lazy: then a good daemon serves the same file, same mount" lz_recovers
	ktest "lazy: daemon killed mid-read: EIO; a restarted daemon serves the read" lz_killed
	ktest "lazy: a daemon that never answers: timeout EIO, killable reader, umount -l" lz_timeout_kill_umount
	ktest "lazy: mount again, fetchd again" lz_remount
	ktest "lazy: reading everything equals the source tree" lz_all
	ktest "lazy: fetchd stops on SIGTERM" lz_fetchd_stop
	ktest "lazy: an encrypted image pulled lazily mounts with ondemand,key=" lz_enc_setup
	ktest "lazy: encrypted, no daemon: EIO" lz_enc_nodaemon
	ktest "lazy: encrypted, fetchd serves it: every path reads right" lz_enc_read
	ktest "lazy: encrypted: fetchd stops, umount, key purged" lz_enc_done
	step lz_teardown
}

# free_port: print a loopback TCP port nobody listens on and that this
# shell has not handed out before (for stacks started by make test/bench).
# The ports lie below Linux's ephemeral range (32768-60999), where no
# outgoing connection can be holding one that nothing listens on.
_hxb_taken=" "
free_port() {
	local p
	for ((;;)); do
		p=$((20000 + RANDOM % 12000))
		case $_hxb_taken in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			_hxb_taken+="$p "
			echo "$p"
			return
		fi
	done
}

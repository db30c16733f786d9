# SPDX-License-Identifier: GPL-2.0
# bash completion for vhuctl(8): its commands, and each command's options
# as its own --help lists them, so the two cannot drift apart.
_vhuctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]:-} opts

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "export daemon add remove list stats resize monitor version help --help --version" -- "$cur"))
		return
	fi
	case "$prev" in
	--backing|--config|--control)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--datapath)
		COMPREPLY=($(compgen -W "auto kernel user" -- "$cur"))
		return ;;
	--logical-block-size)
		COMPREPLY=($(compgen -W "512 4096" -- "$cur"))
		return ;;
	--user|--allow-uid)
		COMPREPLY=($(compgen -u -- "$cur"))
		return ;;
	--group|--socket-group|--allow-gid)
		COMPREPLY=($(compgen -g -- "$cur"))
		return ;;
	esac
	if [ "$cmd" = help ]; then
		COMPREPLY=($(compgen -W "export daemon add remove list stats resize monitor version help" -- "$cur"))
		return
	fi
	case "$cur" in
	-*)
		opts=$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null |
			sed -n 's/^ *\(-h, \)\{0,1\}\(--[a-z-]*\).*/\2/p')
		COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
	esac
}
complete -F _vhuctl vhuctl

# t/lib/idp.sh: drive the browser part of a sign-in at the test OpenID
# Provider (t/peers/idp.mjs, oidc-provider's development interactions)
# with curl, for the TAP tests written in bash.  Source it; needs bash,
# curl, sed and grep.
#
# idp_sign_in AUTH_URL LOGIN JAR CAFILE
#	AUTH_URL  the authorization URL the relying party redirected to
#	LOGIN     what to type in the login form (any password is taken):
#	          sub = LOGIN, email = LOGIN or LOGIN@example.test, and the
#	          email is unverified when LOGIN starts with "unverified"
#	JAR       curl cookie jar (read and written; a jar that still holds an
#	          IdP session signs in as that session's user without showing
#	          the login form, and skips the consent already given: use a
#	          fresh jar per user)
#	CAFILE    the CA certificate the IdP's certificate chains to (t/tls.sh)
#   Follows redirects on the IdP's origin only, fills in the login form
#   (login=LOGIN, password) and submits the consent form (with its hidden
#   inputs), and stops at the first redirect to another origin, which it
#   does not follow: it prints that URL (the relying party's redirect_uri
#   with code, state and iss, or with error and error_description) on
#   stdout and returns 0.  Anything unexpected (a transport error, an error
#   page, a page without a known form, more than 20 steps) returns 1 with a
#   message on stderr.
#
# Set IDP_SIGN_IN_TRACE=1 to trace each step on stderr.

# _idp_origin URL: scheme://host:port, lower-cased, with the default port.
_idp_origin() {
	local o
	o=$(printf '%s' "$1" | sed -n 's,^\([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*\).*,\1,p' |
	    tr 'A-Z' 'a-z')
	case $o in	# drop any userinfo
	*://*@*) o=${o%%://*}://${o##*@} ;;
	esac
	case $o in
	https://*:[0-9]* | http://*:[0-9]*)
		case ${o##*:} in *[!0-9]*) ;; *) printf '%s\n' "$o"; return ;; esac
		;;
	esac
	case $o in
	https://*) printf '%s:443\n' "$o" ;;
	http://*) printf '%s:80\n' "$o" ;;
	*) printf '%s\n' "$o" ;;
	esac
}

_idp_unescape() {	# HTML character references that forms carry
	sed -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&#34;/"/g' \
	    -e "s/&#39;/'/g; s/&#x27;/'/g; s/&apos;/'/g" \
	    -e 's,&#x2[Ff];,/,g; s,&#47;,/,g; s/&#x3[Dd];/=/g; s/&#61;/=/g' \
	    -e 's/&amp;/\&/g; s/&#38;/\&/g'
}

# _idp_attr NAME: the value of attribute NAME of the one tag on stdin.
_idp_attr() {
	sed -n -e "s/.*[[:space:]]$1[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" \
	    -e "t" \
	    -e "s/.*[[:space:]]$1[[:space:]]*=[[:space:]]*'\\([^']*\\)'.*/\\1/p" \
	    -e "t" \
	    -e "s/.*[[:space:]]$1[[:space:]]*=[[:space:]]*\\([^[:space:]\"'>]*\\).*/\\1/p" |
	    head -n 1 | _idp_unescape
}

# _idp_resolve BASE REF: REF made absolute against BASE.
_idp_resolve() {
	local base=$1 ref=$2 dir
	case $ref in
	'') printf '%s\n' "$base" ;;
	[A-Za-z]*://*) printf '%s\n' "$ref" ;;
	//*) printf '%s\n' "${base%%//*}$ref" ;;
	/*) printf '%s\n' "$(printf '%s' "$base" |
		sed 's,^\([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*\).*,\1,')$ref" ;;
	'?'*) printf '%s\n' "${base%%\?*}$ref" ;;
	*)
		dir=${base%%\?*}
		dir=${dir%/*}
		printf '%s/%s\n' "$dir" "$ref"
		;;
	esac
}

_idp_trace() { [ -z "${IDP_SIGN_IN_TRACE:-}" ] || printf 'idp_sign_in: %s\n' "$*" >&2; }

_idp_fail() { printf 'idp_sign_in: %s\n' "$*" >&2; return 1; }

# _idp_page_error BODYFILE: the gist of an HTML error page, on one line.
_idp_page_error() {
	tr '\n' ' ' <"$1" | sed -e 's/<style.*<\/style>//' -e 's/<[^>]*>/ /g' |
	    _idp_unescape | tr -s ' \t' ' ' | cut -c 1-400
}

_idp_sign_in_steps() {
	local url=$1 login=$2 jar=$3 cafile=$4 tmp=$5
	local origin step out rc status location ctype method action form kind
	local tags tag name value type line cur in_form candidate
	local -a data form_list

	origin=$(_idp_origin "$url")
	[ -n "$origin" ] || { _idp_fail "not a URL: $url"; return 1; }
	method=GET
	data=()

	for ((step = 1; step <= 20; step++)); do
		_idp_trace "$method $url"
		local -a req=(curl -sS --proto =https,http --max-time 20 --cacert "$cafile"
		    -b "$jar" -c "$jar" -D "$tmp/headers" -o "$tmp/body"
		    -w '%{http_code} %{redirect_url}')
		if [ "$method" = POST ]; then
			req+=(-X POST -H 'Content-Type: application/x-www-form-urlencoded')
			[ ${#data[@]} -gt 0 ] && req+=("${data[@]}") || req+=(--data '')
		elif [ ${#data[@]} -gt 0 ]; then
			req+=(-G "${data[@]}")
		fi
		req+=("$url")
		rc=0
		out=$("${req[@]}") || rc=$?
		[ $rc -eq 0 ] || { _idp_fail "curl failed ($rc) on $method $url"; return 1; }
		status=${out%% *}
		location=${out#* }
		_idp_trace "-> $status $location"
		method=GET
		data=()

		case $status in
		301 | 302 | 303 | 307 | 308)
			[ -n "$location" ] || { _idp_fail "$status without Location from $url"; return 1; }
			if [ "$(_idp_origin "$location")" != "$origin" ]; then
				printf '%s\n' "$location"
				return 0
			fi
			# 307/308 would repeat a POST; the IdP answers forms with 303.
			url=$location
			continue
			;;
		200) ;;
		*)
			_idp_fail "HTTP $status from $url: $(_idp_page_error "$tmp/body")"
			return 1
			;;
		esac

		ctype=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Cc]ontent-[Tt]ype:[[:space:]]*//p' | tail -n 1)
		case $ctype in
		text/html*) ;;
		*) _idp_fail "unexpected content-type '$ctype' from $url"; return 1 ;;
		esac

		# One tag per line, each form's tags between its <form> and </form>.
		tags=$(tr '\r\n\t' '   ' <"$tmp/body" | sed 's/</\n</g' | sed -n 's/^\(<[^>]*>\).*/\1/p')
		# Split the tags into forms, one array element each.
		form_list=()
		cur="" in_form=0
		while IFS= read -r line; do
			case $line in
			"<"[Ff][Oo][Rr][Mm][[:space:]\>]*) in_form=1 cur=$line ;;
			"</"[Ff][Oo][Rr][Mm]*)
				[ $in_form = 0 ] || form_list+=("$cur")
				in_form=0 cur=""
				;;
			*) [ $in_form = 0 ] || cur+=$'\n'$line ;;
			esac
		done <<<"$tags"
		if [ ${#form_list[@]} -eq 0 ]; then
			_idp_fail "no form on the page at $url: $(_idp_page_error "$tmp/body")"
			return 1
		fi
		# The form to submit: the first with a login input, else the first
		# with a hidden prompt input.
		form="" kind=""
		for candidate in "${form_list[@]}"; do
			if printf '%s\n' "$candidate" | grep -Eiq "^<input[^>]*[[:space:]]name=[\"']?login([\"'[:space:]/>]|\$)"; then
				form=$candidate kind=login
				break
			fi
			if [ -z "$kind" ] && printf '%s\n' "$candidate" |
			    grep -Eiq "^<input[^>]*[[:space:]]name=[\"']?prompt([\"'[:space:]/>]|\$)"; then
				form=$candidate kind=prompt
			fi
		done
		if [ -z "$kind" ]; then
			_idp_fail "no login or consent form at $url: $(_idp_page_error "$tmp/body")"
			return 1
		fi
		[ -n "$form" ] || { _idp_fail "no usable form at $url"; return 1; }

		tag=$(printf '%s\n' "$form" | grep -Ei '^<form' | head -n 1)
		action=$(printf '%s\n' "$tag" | _idp_attr action)
		method=$(printf '%s\n' "$tag" | _idp_attr method | tr 'a-z' 'A-Z')
		[ -n "$method" ] || method=GET
		url=$(_idp_resolve "$url" "$action")
		[ "$(_idp_origin "$url")" = "$origin" ] ||
		    { _idp_fail "form at $url posts to another origin"; return 1; }

		data=()
		while IFS= read -r tag; do
			type=$(printf '%s\n' "$tag" | _idp_attr type | tr 'A-Z' 'a-z')
			name=$(printf '%s\n' "$tag" | _idp_attr name)
			value=$(printf '%s\n' "$tag" | _idp_attr value)
			[ -n "$name" ] || continue
			case $type in
			hidden) data+=(--data-urlencode "$name=$value") ;;
			esac
		done < <(printf '%s\n' "$form" | grep -Ei '^<input')

		if [ "$kind" = login ]; then
			_idp_trace "login form -> $url as '$login'"
			data+=(--data-urlencode "login=$login" --data-urlencode "password=any-password")
		else
			_idp_trace "consent form -> $url"
		fi
		[ "$method" = POST ] || [ "$method" = GET ] ||
		    { _idp_fail "form method '$method' at $url"; return 1; }
	done
	_idp_fail "more than 20 steps at the IdP, last at $url"
	return 1
}

idp_sign_in() {
	if [ $# -ne 4 ]; then
		_idp_fail "usage: idp_sign_in AUTH_URL LOGIN JAR CAFILE"
		return 1
	fi
	local tmp rc
	tmp=$(mktemp -d) || return 1
	[ -e "$3" ] || : >"$3"
	_idp_sign_in_steps "$1" "$2" "$3" "$4" "$tmp"
	rc=$?
	rm -rf "$tmp"
	return $rc
}

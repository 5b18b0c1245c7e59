package models

// The rules of JSON text that every strict decoder of this service applies
// beyond encoding/json's: it turns an unpaired surrogate escape into U+FFFD
// without a word, which would silently change a password (or an address)
// between the one who sent it and the one who checks it.

// HasLoneSurrogate reports whether a \uD800–\uDFFF escape in body is not part
// of a high-low pair. In JSON a backslash only occurs inside strings and
// always starts an escape, so walking escape by escape over the whole body is
// exact for any input the decoder would accept.
func HasLoneSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		r, ok := unicodeEscape(body, i)
		switch {
		case !ok:
			i++ // a two-byte escape such as \" or \\
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := unicodeEscape(body, i+6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// unicodeEscape decodes the \uXXXX escape starting at body[i], if it is one.
func unicodeEscape(body []byte, i int) (rune, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range body[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

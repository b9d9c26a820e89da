package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// wire is one client's keep-alive HTTP/1.1 connection, written and read in
// the client's own goroutine: net/http's Transport hands every request to
// a connection's reader and writer goroutines and back, which on a
// two-core machine shared with the server costs the load tool about as
// much CPU as a third of qun's own per request. The request is the same
// bytes a Go client sends (method, path, Host, the credential, the JSON
// body); the answer is parsed by net/http (http.ReadResponse).
type wire struct {
	addr, host string
	conn       net.Conn
	br         *bufio.Reader
	req, body  bytes.Buffer
}

func newWire(base string) (*wire, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("-client raw speaks plain http, not %s (-client stdlib does)", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &wire{addr: addr, host: u.Host}, nil
}

// call sends r with cred and returns the status and the body (valid until
// the next call).
func (w *wire) call(r request, cred credential) (int, []byte, error) {
	path := r.path
	if cred.query != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + cred.query + "=" + url.QueryEscape(cred.value)
	}
	w.req.Reset()
	w.req.WriteString(r.method + " " + path + " HTTP/1.1\r\nHost: " + w.host + "\r\nUser-Agent: qunload\r\n")
	if cred.header != "" {
		w.req.WriteString(cred.header + ": " + cred.value + "\r\n")
	}
	if r.body != "" || r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
		w.req.WriteString("Content-Type: application/json; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(r.body)) + "\r\n")
	}
	w.req.WriteString("\r\n")
	w.req.WriteString(r.body)
	reused := w.conn != nil
	status, err := w.roundTrip()
	if err != nil && reused {
		// A connection the server closed while idle: once more, on a new one.
		w.close()
		status, err = w.roundTrip()
	}
	if err != nil {
		w.close()
		return 0, nil, err
	}
	return status, w.body.Bytes(), nil
}

func (w *wire) roundTrip() (int, error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		w.conn, w.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	w.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := w.conn.Write(w.req.Bytes()); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0, err
	}
	w.body.Reset()
	_, err = w.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err == nil && resp.Close {
		w.close()
	}
	return resp.StatusCode, err
}

func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
}

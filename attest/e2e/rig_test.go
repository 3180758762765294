package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"tep.dev/tep/attest/agent"
	"tep.dev/tep/attest/agentsvc"
	"tep.dev/tep/attest/api"
	"tep.dev/tep/attest/appraise"
	"tep.dev/tep/attest/credential"
	"tep.dev/tep/attest/ekcert"
	"tep.dev/tep/attest/ima"
	"tep.dev/tep/attest/ima/imagen"
	"tep.dev/tep/attest/store"
	"tep.dev/tep/attest/verifier"
	"tep.dev/tep/internal/swtpm"
	"tep.dev/tep/tpm"
)

var banks = []string{"sha256", "sha384"}

// fleet is a verifier serving HTTPS on loopback, and its operators.
type fleet struct {
	dbPath  string
	s       *store.SQLite
	v       *verifier.Verifier
	key     crypto.Signer
	url     string
	certPEM []byte
	cert    tls.Certificate
	admin   *api.Client
	auditor *api.Client
}

// ekChecker checks EK certificates against the swtpm local CA.
type ekChecker struct{ roots, inter *x509.CertPool }

func (e ekChecker) Check(cert, pub []byte) error {
	_, err := ekcert.Verify(cert, pub, ekcert.Options{Roots: e.roots, Intermediates: e.inter})
	return err
}

func certPool(t testing.TB, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("no certificate in %s", file)
	}
	return p
}

// newFleet starts a verifier that trusts the EK CA in caDir.
func newFleet(t testing.TB, caDir string, rec *recorder) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{dbPath: filepath.Join(dir, "verifier.db")}
	var err error
	if f.s, err = store.OpenSQLite(f.dbPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.s.Close() })
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ek := ekChecker{certPool(t, swtpm.RootCert(caDir)), certPool(t, swtpm.IssuerCert(caDir))}
	certPEM, keyPEM, err := api.SelfSigned("tep-verifier", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.certPEM = certPEM
	if f.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	// Flavors are read for every appraisal, so that a changed row shows at once.
	ap := appraise.New(appraise.Config{Store: f.s, Key: f.key, PolicyTTL: -1})
	f.v = verifier.New(verifier.Config{
		Store: f.s, EK: ek, Credential: credential.Make, Appraiser: ap, Policies: ap,
		Fetcher: &api.Fetcher{Cert: f.cert}, PendingNonces: 64,
	})
	tlsCfg, err := api.ServerTLS(f.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(api.Config{Verifier: f.v, ReportKey: f.key.Public()}), TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	f.url = "https://" + ln.Addr().String()
	f.admin = f.client(t, f.token(t, store.RoleAdmin), rec)
	f.auditor = f.client(t, f.token(t, store.RoleAuditor), rec)
	return f
}

func (f *fleet) token(t testing.TB, role string) string {
	t.Helper()
	tok, _, err := f.v.CreateToken(context.Background(), role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is an API client pinned to the verifier's certificate, its
// requests recorded by rec when not nil.
func (f *fleet) client(t testing.TB, token string, rec *recorder) *api.Client {
	t.Helper()
	c, err := api.NewClient(f.url, f.certPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = token
	if rec != nil {
		c.HTTP.Transport = wrap{rec, c.HTTP.Transport}
	}
	return c
}

// device is an swtpm with an agent, and the IMA log the test writes for
// it and extends into PCR 10.
type device struct {
	id      string
	tpm     *tpm.TPM
	agent   *agent.Agent
	logPath string
	gen     *imagen.Generator
	log     []byte // the log written so far
	entries int    // the entries written and extended so far
}

// newDevice manufactures an swtpm with EK certificates from caDir's CA
// and opens an agent on it, with an IMA log of total entries generated
// (none written yet).
func newDevice(t testing.TB, id, caDir string, seed uint64, total int) *device {
	t.Helper()
	dir := t.TempDir()
	p := startSWTPM(t, filepath.Join(dir, "state"), caDir)
	tp, err := tpm.Open(p.Spec, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	d := &device{id: id, tpm: tp, logPath: filepath.Join(dir, "binary_runtime_measurements")}
	if d.agent, err = agent.New(tp, agent.Config{StateDir: filepath.Join(dir, "agent"), IMALogPath: d.logPath, BootLogPath: filepath.Join(dir, "no-boot-log")}); err != nil {
		t.Fatal(err)
	}
	if d.gen, err = imagen.New(imagen.Config{Banks: banks, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	d.gen.Append(total)
	return d
}

// advance writes the generated log up to entry n and extends PCR 10
// with the entries since the last advance, as the kernel does.
func (d *device) advance(t testing.TB, n int) {
	t.Helper()
	rest, err := ima.Split(d.gen.Log(), n)
	if err != nil {
		t.Fatal(err)
	}
	full := d.gen.Log()
	d.extend(t, full[len(d.log):len(full)-len(rest)], d.gen.Extended("sha256")[d.entries:n], d.gen.Extended("sha384")[d.entries:n])
	d.entries = n
}

// extend appends entries to the log file and extends their digests.
func (d *device) extend(t testing.TB, entries []byte, d256, d384 [][]byte) {
	t.Helper()
	d.log = append(d.log, entries...)
	if err := os.WriteFile(d.logPath, d.log, 0o600); err != nil {
		t.Fatal(err)
	}
	err := d.tpm.Do(func(tr transport.TPM) error {
		for i := range d256 {
			_, err := tpm2.PCRExtend{
				PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(ima.PCR), Auth: tpm2.PasswordAuth(nil)},
				Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
					{HashAlg: tpm2.TPMAlgSHA256, Digest: d256[i]}, {HashAlg: tpm2.TPMAlgSHA384, Digest: d384[i]},
				}},
			}.Execute(tr)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// foreign appends an ima-ng entry for a file no policy knows and
// extends it, as running an unknown executable would.
func (d *device) foreign(t testing.TB, path string) {
	t.Helper()
	digest := sha256.Sum256([]byte("not in any policy: " + path))
	field := func(b []byte) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(len(b))) }
	dng := append([]byte("sha256:\x00"), digest[:]...)
	nng := append([]byte(path), 0)
	data := append(append(field(dng), dng...), append(field(nng), nng...)...)
	th := sha1.Sum(data)
	e := binary.LittleEndian.AppendUint32(nil, ima.PCR)
	e = append(e, th[:]...)
	e = append(append(e, field([]byte("ima-ng"))...), "ima-ng"...)
	e = append(append(e, field(data)...), data...)
	s256, s384 := sha256.Sum256(data), sha512.Sum384(data)
	d.extend(t, e, [][]byte{s256[:]}, [][]byte{s384[:]})
	d.entries++
}

// startSWTPM manufactures an swtpm in state, over TCP, with EK and
// platform certificates from caDir's CA; it stops when the test ends.
func startSWTPM(t testing.TB, state, caDir string) *swtpm.Process {
	t.Helper()
	p, err := swtpm.Start(swtpm.Config{
		State: state, TCP: true,
		Manufacture: &swtpm.Manufacture{PCRBanks: banks, EKCert: true, PlatformCert: true, CADir: caDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// pullServer serves d's agent in pull mode on loopback and returns its
// URL and certificate (DER).
func (d *device) pullServer(t testing.TB, verifierPEM []byte) (string, []byte) {
	return servePull(t, d.agent, verifierPEM, nil)
}

// servePull serves agent d in pull mode on loopback, logging the HTTP
// server's errors to errorLog (nil: the standard logger), and returns
// its URL and certificate (DER).
func servePull(t testing.TB, d agentsvc.Device, verifierPEM []byte, errorLog *log.Logger) (string, []byte) {
	t.Helper()
	certPEM, keyPEM, err := api.SelfSigned("tep-attest", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(certPEM, keyPEM)
	cfg, err := agentsvc.PullTLS(cert, verifierPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: agentsvc.PullHandler(d, nil), TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: errorLog}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	blk, _ := pem.Decode(certPEM)
	return "https://" + ln.Addr().String(), blk.Bytes
}

// wrap records requests with rec and sends them on next.
type wrap struct {
	rec  *recorder
	next http.RoundTripper
}

func (w wrap) RoundTrip(r *http.Request) (*http.Response, error) { return w.rec.roundTrip(r, w.next) }

// statusOf returns the status of an API error, 0 for another.
func statusOf(err error) (int, string) {
	var se *api.StatusError
	if errors.As(err, &se) {
		name := ""
		if se.Body.Fault != nil {
			name = se.Body.Fault.Name
		}
		return se.Code, name
	}
	return 0, ""
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

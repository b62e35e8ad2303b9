package image

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The user the server runs as, as in distroless images.
const (
	UID      = 65532
	GID      = 65532
	UserName = "nonroot"
)

// Paths inside the image.
const (
	BinaryPath   = "/coredns"
	CACertsPath  = "/etc/ssl/certs/ca-certificates.crt"
	ConfigDir    = "/etc/coredns"
	CorefilePath = ConfigDir + "/Corefile"
)

// entry is one file or directory of the image's only layer. Names are
// relative to the root, directories end in a slash.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
	pax      map[string]string
}

// rootfs lists the whole file system: the binary, the CA bundle, the user
// and group databases and the directories they need, parents first.
func rootfs(binary, caCerts []byte, bindCapability bool) []entry {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n",
		UserName, UID, GID, UserName, UserName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	bin := entry{name: strings.TrimPrefix(BinaryPath, "/"), mode: 0o755, data: binary}
	if bindCapability {
		bin.pax = map[string]string{"SCHILY.xattr.security.capability": string(netBindServiceCapability())}
	}
	entries := []entry{
		bin,
		dir("etc/", 0o755, 0),
		dir("etc/coredns/", 0o755, 0),
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		dir("etc/ssl/", 0o755, 0),
		dir("etc/ssl/certs/", 0o755, 0),
		{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: caCerts},
		dir("home/", 0o755, 0),
		dir("home/"+UserName+"/", 0o700, UID),
		dir("root/", 0o700, 0),
		dir("tmp/", 0o1777, 0),
	}
	sortByName(entries)
	return entries
}

// sortByName orders entries by name, which puts a directory before what it
// holds.
func sortByName(entries []entry) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
}

func dir(name string, mode int64, owner int) entry {
	return entry{name: name, mode: mode, uid: owner, gid: owner}
}

// netBindServiceCapability is the value of the security.capability extended
// attribute that `setcap cap_net_bind_service=+ep` writes (struct
// vfs_cap_data, revision 2, little-endian): CAP_NET_BIND_SERVICE permitted
// and effective, so that the non-root user may listen on port 53 — as
// CoreDNS's own images do.
func netBindServiceCapability() []byte {
	const (
		revision2       = 0x02000000
		flagEffective   = 0x000001
		capNetBindServe = 10
	)
	v := make([]byte, 20)
	binary.LittleEndian.PutUint32(v[0:], revision2|flagEffective)
	binary.LittleEndian.PutUint32(v[4:], 1<<capNetBindServe) // permitted, caps 0-31
	return v                                                 // inheritable and caps 32-63: zero
}

// writeTar writes entries as a tar stream in the given order, every one
// with the same modification time, owned by uid:gid with no names, so that
// the same inputs always give the same bytes.
func writeTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:       e.name,
			Mode:       e.mode,
			Uid:        e.uid,
			Gid:        e.gid,
			ModTime:    mtime,
			PAXRecords: e.pax,
			Format:     tar.FormatPAX,
		}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat (100
// on every Linux this runs on).
const clockTicks = 100

// cpuSample is the CPU time spent so far by serve, by every postgres
// process, and by this tool (load generator and fake provider), and when.
type cpuSample struct {
	at                    time.Time
	serve, postgres, tool float64
}

// sampleCPU reads the CPU seconds of serve (pid), of all processes named
// postgres, and of this process.
func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now(), serve: procCPU(strconv.Itoa(pid))}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if comm, err := os.ReadFile(filepath.Join(d, "comm")); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			s.postgres += procCPU(filepath.Base(d))
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.tool = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return s
}

// procCPU is a process's user plus system CPU seconds, 0 when it is gone.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from its closing ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// cpuPerRequest is what each of n requests between a and b cost in CPU
// microseconds, by process, and how busy the machine's cores were.
func cpuPerRequest(a, b cpuSample, n int) map[string]any {
	if n == 0 {
		return nil
	}
	per := func(x, y float64) float64 { return round((y-x)*1e6/float64(n), 0) }
	wall := b.at.Sub(a.at).Seconds()
	used := (b.serve - a.serve) + (b.postgres - a.postgres) + (b.tool - a.tool)
	return map[string]any{
		"serve_us": per(a.serve, b.serve), "postgres_us": per(a.postgres, b.postgres),
		"load_tool_and_fake_provider_us": per(a.tool, b.tool),
		"cores_busy":                     round(used/wall, 2),
	}
}

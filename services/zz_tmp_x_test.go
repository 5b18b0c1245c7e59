package services
import ("fmt";"testing";"time")
func TestXPrint(t *testing.T){ m,_:=RenderReset(ResetEmail{To:"a@b.c",Link:"https://x.test/p?token=abc",ValidFor:30*time.Minute}); fmt.Printf("%q\n%s\n%s\n", m.Subject, m.Text, m.HTML)
n,_:=RenderNotice(NoticeEmail{To:"a@b.c",Change:"reset",At:time.Now(),SupportContact:"help@x.test"}); fmt.Printf("%s\n%s\n", n.Text, n.HTML)}

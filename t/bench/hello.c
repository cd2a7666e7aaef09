/*
 * hello: the bare FastCGI program that `make bench` measures the handlers
 * against.  It does the least a FastCGI responder can: accept, answer a
 * fixed JSON body, finish.
 */
#include <fcgiapp.h>
#include <string.h>

int
main(void)
{
	static const char resp[] = "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 17\r\n\r\n"
	    "{\"hello\":\"world\"}";
	FCGX_Request	 r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(resp, (int)strlen(resp), r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}

/* openapi.c: embeds openapi.yaml with the assembler's .incbin (the build
 * runs from the repository root; the Makefile makes this object depend on
 * the file). */
#include "server/openapi.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        "atelier_openapi_start:\n"
        ".incbin \"openapi.yaml\"\n"
        "atelier_openapi_end:\n"
        ".byte 0\n"
        ".previous\n");

extern const char atelier_openapi_start[], atelier_openapi_end[];

const char *openapi_text(void)
{
    return atelier_openapi_start;
}

size_t openapi_len(void)
{
    return (size_t)(atelier_openapi_end - atelier_openapi_start);
}

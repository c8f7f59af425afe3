/* bcryptprimitives.dll for wine 8, which lacks it.
 *
 * Rust's standard library (in the cryptography, bcrypt and pydantic-core wheels) and Go programs
 * such as kubectl.exe take their randomness from ProcessPrng, exported by this DLL on Windows 10
 * and later. Here it forwards to RtlGenRandom (SystemFunction036 in advapi32), which wine has.
 * Test lane only: real Windows has the real DLL.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

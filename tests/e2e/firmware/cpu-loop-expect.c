/*
 * cpu-loop-expect ITER: what cpu-loop.S prints, computed on the host: the
 * same 32-bit loop, once for each of its two runs.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t compute(uint32_t iter)
{
    uint32_t b = 0;

    for (uint32_t c = iter; c; c--) {
        uint32_t a = c * 2654435761u;

        b += a;
        b = b << 5 | b >> 27;
        b ^= a;
        b += c;
    }
    return b;
}

int main(int argc, char **argv)
{
    uint32_t b;

    if (argc != 2) {
        fprintf(stderr, "usage: cpu-loop-expect ITER\n");
        return 2;
    }
    b = compute((uint32_t)strtoul(argv[1], NULL, 0));
    printf("CPULOOP: interrupts off %08" PRIX32 "\r\nCPULOOP: interrupts on %08" PRIX32 "\r\n", b,
           b);
    return 0;
}

/*
 * layer_link.c — an empty program. tests/meson.build links it with one
 * subsystem's library whole and only the layers below it: a function that
 * calls up to a higher layer leaves an undefined reference and fails the
 * build.
 */
int main(void)
{
	return 0;
}

/* The tiny static program the fork+exec churn runs: exits 0 at once. */
int main(void)
{
	return 0;
}

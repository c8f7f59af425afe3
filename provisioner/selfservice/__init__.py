"""The self-service page: a lab user signs in with the lab's IdP and downloads their own kubeconfig."""
